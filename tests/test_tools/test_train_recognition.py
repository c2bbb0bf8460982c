"""Recognition through the unchanged tools: dist_train.sh / dist_test.sh / test.py on the demo classifier.

The recognition demo (Deep TEN on brain-atlas patches) made tiny: sparse patch grids, batch 4,
no workers. Two gloo processes train and validate; the top-1 / top-5 they report must equal a
single-process ``tools/test.py`` of the same checkpoint and a two-process ``dist_test.sh``, i.e.
the padded last batch of the distributed sampler is not counted twice.
"""

import os
import re
import sys
from pathlib import Path

from ..tool_process import free_port, run_command

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'deepten_r18-d8_1xb64-1500_brain-atlas-patches-48x48.py'
TINY = f"""
_base_ = {str(DEMO)!r}
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(stride=40))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(stride=40))
test_dataloader = val_dataloader
"""
# 'Iter(val) [..] top1: 12.5000  top5: 50.0000  mean_class_acc: ...' -> ('12.5000', '50.0000').
SCORES = re.compile(r'Iter\((?:val|test)\).*top1: ([\d.]+)\s+top5: ([\d.]+)')


def _run(cmd: list[str], env: dict | None = None) -> str:
    result = run_command(cmd, cwd=REPO, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_two_gloo_processes_train_and_score_as_one(tmp_path):
    config = tmp_path / 'tiny_recognition.py'
    config.write_text(TINY)
    work_dir = tmp_path / 'dist'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    # faulthandler: a rank that aborts (SIGABRT) prints its Python stack.
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable, PYTHONFAULTHANDLER='1')
    train = ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config), '2', '--work-dir', str(work_dir)]
    log = _run([*train, '--seed', '0', '--cfg-options', *options], env=env)
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log
    val = SCORES.findall(log)
    assert len(val) == 1, log[-3000:]
    checkpoint = work_dir / 'iter_2.pth'

    test = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(checkpoint)]
    single = _run([*test, '--work-dir', str(tmp_path / 'test')])
    assert SCORES.findall(single) == val
    # The per-class table (11 classes) comes with the scores.
    assert 'mean_class_acc' in single and re.search(r'\|\s+Class\s+\|', single), single[-3000:]

    env['PORT'] = str(free_port())
    dist_test = ['bash', str(REPO / 'tools' / 'dist_test.sh'), str(config), str(checkpoint), '2']
    both = _run([*dist_test, '--work-dir', str(tmp_path / 'dist_test')], env=env)
    assert SCORES.findall(both) == val
