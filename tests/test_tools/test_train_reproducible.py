"""tools/train.py on the demo config as it ships: repeatable runs, exact resume after SIGKILL, safe resume.

The demo config is used unchanged apart from a short schedule and a shorter validation set: two
data-loader workers that persist, the endless shuffled sampler, random resize/crop/flip without
seeds of their own, dropout in both heads, validation in the middle of the run.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
MAX_ITERS = 4
SHORT = [
    f'train_cfg.max_iters={MAX_ITERS}',
    'train_cfg.val_interval=2',
    # Validation (through the config's two persistent workers) on the first 8 of the 27 val slices.
    '+val_dataloader.dataset.indices=8',
    'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1',
    f'default_hooks.checkpoint.max_keep_ckpts={MAX_ITERS}',
]


def _cmd(work_dir: Path, *extra: str) -> list[str]:
    train = [sys.executable, str(REPO / 'tools' / 'train.py'), str(DEMO), '--work-dir', str(work_dir)]
    return [*train, '--seed', '0', '--deterministic', *extra, '--cfg-options', *SHORT]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return run_command(cmd, cwd=REPO, timeout=300)


def _ok(cmd: list[str]) -> str:
    result = _run(cmd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _losses(work_dir: Path) -> dict[int, dict[str, float]]:
    """``iter -> {loss name: value}`` over every run in ``work_dir`` (mmengine's ``scalars.json``)."""
    losses = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if 'loss' in record:
                losses[record['iter']] = {key: value for key, value in record.items() if 'loss' in key}
    return losses


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def straight(tmp_path_factory) -> Path:
    """One uninterrupted short run of the demo."""
    work_dir = tmp_path_factory.mktemp('straight')
    _ok(_cmd(work_dir))
    return work_dir


@pytest.mark.slow
def test_the_same_command_gives_the_same_losses(straight, tmp_path):
    _ok(_cmd(tmp_path))
    expected, got = _losses(straight), _losses(tmp_path)
    assert sorted(expected) == list(range(1, MAX_ITERS + 1))
    assert got == expected  # every loss term of every iteration, exactly
    first = _weights(straight / f'iter_{MAX_ITERS}.pth')
    second = _weights(tmp_path / f'iter_{MAX_ITERS}.pth')
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.slow
def test_sigkill_and_resume_auto_ends_bit_identical(straight, tmp_path):
    kill_after = random.Random().randint(1, MAX_ITERS - 1)
    print(f'killing after iteration {kill_after}')
    process = subprocess.Popen(_cmd(tmp_path), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        # Checkpoints are renamed into place complete, so a visible iter_k.pth is a whole one.
        while not (tmp_path / f'iter_{kill_after}.pth').exists() and process.poll() is None:
            assert time.monotonic() < deadline, 'the run never reached the iteration to kill it at'
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert not (tmp_path / f'iter_{MAX_ITERS}.pth').exists(), 'the run finished before it could be killed'
    # What a kill in the middle of a checkpoint write leaves behind.
    stale = tmp_path / f'.iter_{MAX_ITERS}.pth.k1ll3d_x.tmp'
    stale.write_bytes(b'half a checkpoint')

    log = _ok(_cmd(tmp_path, '--resume', 'auto'))
    expected, got = _weights(straight / f'iter_{MAX_ITERS}.pth'), _weights(tmp_path / f'iter_{MAX_ITERS}.pth')
    assert expected.keys() == got.keys() and len(expected) > 100
    different = [key for key in expected if not torch.equal(expected[key], got[key])]
    assert not different, f'killed after iteration {kill_after}: {len(different)} tensors differ, e.g. {different[:3]}'
    assert _losses(tmp_path) == _losses(straight)
    resumed_at = int(re.search(r'resumed epoch: 0, iter: (\d+)', log).group(1))
    assert kill_after <= resumed_at < MAX_ITERS
    assert f'restored the random states saved at iteration {resumed_at}' in log
    assert not stale.exists() and 'temporary file(s) of an interrupted checkpoint write' in log


def test_resume_auto_refuses_to_start_over_on_unreadable_checkpoints(tmp_path):
    (tmp_path / 'iter_2.pth').write_bytes(b'PK\x03\x04 truncated')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    result = _run(_cmd(tmp_path, '--resume', 'auto'))
    assert result.returncode == 2, result.stderr[-3000:]
    assert 'none is readable' in result.stderr and 'iter_2.pth' in result.stderr
    assert 'Traceback' not in result.stderr
    # Nothing was trained over it: the unreadable file is kept, moved aside, and no new run started.
    assert (tmp_path / 'iter_2.pth.unreadable').read_bytes() == b'PK\x03\x04 truncated'
    assert not list(tmp_path.glob('iter_*.pth')) and not list(tmp_path.glob('2*/vis_data'))


def test_a_head_with_another_class_count_stops_before_training(tmp_path):
    options = ['model.decode_head.num_classes=5', 'model.auxiliary_head.num_classes=5']
    result = _run([*_cmd(tmp_path), *options])
    assert result.returncode == 2, result.stderr[-3000:]
    assert (
        'model.decode_head.num_classes=5 but train_dataloader.dataset (BrainAtlasDataset) has 12 classes'
        in result.stderr
    )
    assert 'Traceback' not in result.stderr and 'out of bounds' not in result.stdout + result.stderr
    assert not list(tmp_path.glob('iter_*.pth'))
