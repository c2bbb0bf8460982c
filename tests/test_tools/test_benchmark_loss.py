"""tools/analysis_tools/benchmark_loss.py on the demo config: the three loss paths, the train-step pair, JSON."""

import json
import sys
from pathlib import Path

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'benchmark_loss.py'
DEMO = 'configs/demo/fcn_r18-d8_brain-atlas.py'


def test_prints_both_tables_and_writes_json(tmp_path):
    out = tmp_path / 'loss.json'
    cmd = [sys.executable, str(TOOL), DEMO, '--batch', '1', '--steps', '1', '--size', '64', '--classes', '5']
    result = run_command([*cmd, '--json', str(out)], cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert '| fused |' in result.stdout and '| fcn_r18-d8_brain-atlas |' in result.stdout
    data = json.loads(out.read_text())
    path = data['loss_path']
    assert set(path) == {'fused', 'checkpointed', 'plain'}
    # 1 x 5 x 64 x 64 upsampled logits (80 KiB) are kept by the plain path only.
    assert path['plain']['saved_mib'] > path['fused']['saved_mib'] + 0.07
    (row,) = data['train_step']
    assert row['config'] == DEMO and row['fused'] > 0 and row['speedup'] == row['checkpointed'] / row['fused']
