"""tools/analysis_tools/benchmark_norm.py on the demo config: BN and SyncBN timed, one process and gloo."""

import json
import sys
from pathlib import Path

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'benchmark_norm.py'
DEMO = 'configs/demo/fcn_r18-d8_brain-atlas.py'


def test_both_variants_timed_in_one_and_two_processes(tmp_path):
    out = tmp_path / 'norm.json'
    cmd = [sys.executable, str(TOOL), DEMO, '--steps', '1', '--size', '64', '--json', str(out)]
    result = run_command(cmd, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    for key in ('single', 'distributed'):
        assert row[key]['BN'] > 0 and row[key]['SyncBN'] > 0
    assert row['single_ratio'] == row['single']['SyncBN'] / row['single']['BN']
    assert f'| fcn_r18-d8_brain-atlas | {row["single"]["BN"]:.2f} |' in result.stdout


def test_bad_arguments_are_refused_before_any_model_is_built():
    for argv, match in ((['--procs', '1'], '--procs'), (['--steps', '0'], '--steps')):
        bad = run_command([sys.executable, str(TOOL), *argv], cwd=REPO)
        assert bad.returncode == 2 and match in bad.stderr
