"""tools/analysis_tools/benchmark_amp.py on the demo config: both variants measured, one row of ratios, JSON."""

import importlib.util
import json
import sys
from pathlib import Path

from segtools.engine import optimizers

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'benchmark_amp.py'
DEMO = 'configs/demo/fcn_r18-d8_brain-atlas.py'


def test_prints_the_ratio_table_and_writes_json(tmp_path):
    out = tmp_path / 'amp.json'
    cmd = [sys.executable, str(TOOL), DEMO, '--batch', '1', '--steps', '1', '--warmup', '0', '--json', str(out)]
    result = run_command([*cmd, '--allow-emulated'], cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert '| fcn_r18-d8_brain-atlas |' in result.stdout
    (row,) = json.loads(out.read_text())
    assert row['config'] == DEMO
    for variant in ('fp32', 'bf16'):
        assert row[variant]['train'] > 0 and row[variant]['predict'] > 0 and row[variant]['peak_gib'] > 0
    assert row['train_speedup'] == row['fp32']['train'] / row['bf16']['train']


def test_a_failing_variant_fails_the_run(tmp_path):
    result = run_command(
        [sys.executable, str(TOOL), str(tmp_path / 'missing.py'), '--steps', '1', '--warmup', '0'],
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 1 and 'missing.py' in result.stderr


def test_a_cpu_that_emulates_bfloat16_gets_float32_only(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TOOL.parent))
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(optimizers, 'cpu_runs_bf16_natively', lambda: False)
    spec = importlib.util.spec_from_file_location('benchmark_amp', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'amp.json'
    assert tool.main([DEMO, '--batch', '1', '--steps', '1', '--warmup', '0', '--json', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'bf16 not measured: this CPU has no bfloat16 kernels' in printed and '--allow-emulated' in printed
    assert '| fcn_r18-d8_brain-atlas | ' in printed and '| emulated | - |' in printed
    (row,) = json.loads(out.read_text())
    assert row['fp32']['train'] > 0 and row['bf16'] is None and row['train_speedup'] is None
