"""tools/analysis_tools/benchmark_tta.py on the demo config: loop and batched variants, equal predictions."""

import json
import sys
from pathlib import Path

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'benchmark_tta.py'


def test_batched_views_equal_the_loop_and_the_table_has_ratios(tmp_path):
    out = tmp_path / 'tta.json'
    cmd = [sys.executable, str(TOOL), '--crop', '96', '--window-batch', '6', '--repeats', '1', '--warmup', '0']
    cmd += ['--json', str(out)]
    result = run_command(cmd, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert '1 images x 12 views' in result.stdout and "'mode': 'slide'" in result.stdout
    loop, batched = json.loads(out.read_text())
    assert loop['variant'] == 'loop' and batched['variant'] == 'batched wb=6'
    assert loop['windows'] == batched['windows'] > 12  # 12 views, some of several 96x96 windows
    assert batched['forwards'] == -(-loop['windows'] // 6) < loop['forwards'] == loop['windows']
    assert batched['equal_labels'] == 1.0 and batched['diff'] < 1e-4
    assert batched['speedup'] == loop['seconds'] / batched['seconds']
    assert f'| batched wb=6 | {batched["forwards"]} |' in result.stdout


def test_a_config_without_tta_pipeline_is_refused(tmp_path):
    config = tmp_path / 'no_tta.py'
    config.write_text(f"_base_ = '{REPO}/configs/demo/fcn_r18-d8_brain-atlas.py'\ntta_pipeline = None\n")
    result = run_command([sys.executable, str(TOOL), str(config)], cwd=REPO)
    assert result.returncode != 0 and 'no tta_pipeline' in result.stderr


def test_negative_warmup_is_refused():
    result = run_command([sys.executable, str(TOOL), '--warmup', '-1'], cwd=REPO)
    assert result.returncode == 2 and '--warmup must be 0 or more' in result.stderr
