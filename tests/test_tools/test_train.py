"""tools/train.py on the demo config: checkpoints, resume, custom_imports, total_batch_size, error reporting."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from segtools.engine.optimizers import cpu_runs_bf16_natively
from segtools.weights import load_from_local_safe

from ..tool_process import free_port, run_command

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'

# The demo config made small: batch 2 in the main process. (Reproducibility and exact resume of
# the demo as it ships, with workers and dropout, are tested in test_train_reproducible.py.)
SMALL_CONFIG = f"""
_base_ = {str(DEMO)!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
"""
QUICK = [
    'train_cfg.val_interval=1000',
    'default_hooks.checkpoint.interval=2',
    'default_hooks.checkpoint.max_keep_ckpts=5',
    'default_hooks.logger.interval=1',
]
# The test split cut to its first slice (one batch).
ONE_TEST_SLICE = ['+test_dataloader.dataset.indices=1']


def _small_config(tmp_path: Path, extra: str = '') -> Path:
    path = tmp_path / 'small_demo.py'
    path.write_text(SMALL_CONFIG + extra)
    return path


def _train_cmd(config: Path, work_dir: Path, max_iters: int, *extra: str) -> list[str]:
    options = [f'train_cfg.max_iters={max_iters}', *QUICK]
    base = [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), '--work-dir', str(work_dir), '--seed', '0']
    return [*base, *extra, '--cfg-options', *options]


def _run(cmd: list[str], env: dict | None = None) -> str:
    result = run_command(cmd, cwd=REPO, timeout=240, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _logged_losses(work_dir: Path) -> dict[int, float]:
    """``iter -> loss`` over every run in ``work_dir`` (mmengine's ``vis_data/scalars.json``)."""
    losses = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if 'loss' in record:
                losses[record['iter']] = record['loss']
    return losses


def test_train_writes_checkpoints_and_resume_continues(tmp_path):
    config = _small_config(tmp_path)
    work_dir = tmp_path / 'run'
    _run(_train_cmd(config, work_dir, 4))
    assert (work_dir / 'iter_2.pth').is_file() and (work_dir / 'iter_4.pth').is_file()
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(work_dir / 'iter_4.pth')
    # Written checkpoints load weights-only, without any extra allow-listed global.
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(work_dir / 'iter_4.pth')) == []
    assert load_from_local_safe(str(work_dir / 'iter_4.pth'))['meta']['iter'] == 4

    log = _run(_train_cmd(config, work_dir, 6, '--resume'))
    assert 'resumed epoch: 0, iter: 4' in log
    assert load_from_local_safe(str(work_dir / 'iter_6.pth'))['meta']['iter'] == 6
    assert sorted(_logged_losses(work_dir)) == [1, 2, 3, 4, 5, 6]


@pytest.mark.skipif(torch.cuda.is_available(), reason='--amp on a GPU is float16 with AmpOptimWrapper')
def test_amp_without_a_gpu_trains_in_bfloat16(tmp_path):
    # An AmpOptimWrapper config (mmseg's *-amp-* style, float16 arguments included) is switched too.
    config = _small_config(tmp_path, "optim_wrapper = dict(type='AmpOptimWrapper', loss_scale=512.0)\n")
    work_dir = tmp_path / 'amp'
    log = _run(_train_cmd(config, work_dir, 2, '--amp'))
    assert 'bfloat16 autocast on the CPU (BF16OptimWrapper)' in log
    losses = _logged_losses(work_dir)
    assert sorted(losses) == [1, 2] and all(0 < loss < 10 for loss in losses.values())
    state = load_from_local_safe(str(work_dir / 'iter_2.pth'))['state_dict']
    assert all(value.dtype != torch.bfloat16 for value in state.values())  # float32 weights and statistics

    # Where this CPU has no bfloat16 kernels, both tools say that float32 is faster here.
    emulated = not cpu_runs_bf16_natively()
    assert ('BF16OptimWrapper: this CPU has no bfloat16 kernels' in log) is emulated

    # One slice: emulated bfloat16 (AVX2-only CPUs) takes seconds per slice.
    test_tool = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(work_dir / 'iter_2.pth')]
    amp = _run([*test_tool, '--amp', '--work-dir', str(tmp_path / 'test_amp'), '--cfg-options', *ONE_TEST_SLICE])
    assert re.search(r'Iter\(test\) \[1/1\].*mIoU: [\d.]+', amp)
    assert ('tools/test.py --amp: this CPU has no bfloat16 kernels' in amp) is emulated


def test_custom_imports_head_trains(tmp_path):
    plugin = tmp_path / 'plugin'
    plugin.mkdir()
    (plugin / 'tiny_head.py').write_text(
        'import torch\n'
        'from torch import nn\n'
        'from segtools.models.decode_heads.decode_head import BaseDecodeHead\n'
        'from segtools.registry import MODELS\n\n\n'
        '@MODELS.register_module()\n'
        'class TinyHead(BaseDecodeHead):\n'
        '    def __init__(self, in_channels: int, channels: int, **kwargs) -> None:\n'
        '        super().__init__(in_channels, channels, **kwargs)\n'
        '        self.conv = nn.Conv2d(self.in_channels, self.channels, 1)\n\n'
        '    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:\n'
        '        return self.cls_seg(self.conv(self._transform_inputs(inputs)))\n'
    )
    config = _small_config(
        tmp_path,
        "custom_imports = dict(imports=['tiny_head'], allow_failed_imports=False)\n"
        "model = dict(decode_head=dict(_delete_=True, type='TinyHead', in_channels=256, in_index=3, channels=16,"
        ' num_classes=12))\n',
    )
    env = dict(os.environ, PYTHONPATH=f'{plugin}{os.pathsep}{REPO}')
    work_dir = tmp_path / 'run'
    _run(_train_cmd(config, work_dir, 2), env=env)
    state = load_from_local_safe(str(work_dir / 'iter_2.pth'))['state_dict']
    assert 'decode_head.conv.weight' in state


@pytest.mark.slow
@pytest.mark.dist
def test_dist_train_two_cpu_processes(tmp_path):
    config = _small_config(tmp_path)
    work_dir = tmp_path / 'dist'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    # faulthandler: a rank that aborts (SIGABRT) prints its Python stack.
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable, PYTHONFAULTHANDLER='1')
    cmd = ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config), '2', '--work-dir', str(work_dir)]
    log = _run([*cmd, '--seed', '0', '--cfg-options', *options], env=env)
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log
    val = re.findall(r'Iter\(val\).*aAcc: ([\d.]+)\s+mIoU: ([\d.]+)', log)
    assert len(val) == 1, log[-3000:]

    # Two ranks pad the 27 val slices to 28; the metric must still count each slice once,
    # i.e. agree with a single-process evaluation of the same checkpoint.
    test_cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(work_dir / 'iter_2.pth')]
    test = _run([*test_cmd, '--work-dir', str(tmp_path / 'test')])
    assert re.findall(r'Iter\(test\).*aAcc: ([\d.]+)\s+mIoU: ([\d.]+)', test) == val


def _train_module():
    spec = importlib.util.spec_from_file_location('segtools_tools_train', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(('launcher', 'env', 'world_size'), [('none', {}, 1), ('pytorch', {'WORLD_SIZE': '8'}, 8)])
def test_total_batch_size_is_split_over_the_processes(tmp_path, monkeypatch, launcher, env, world_size):
    train = _train_module()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = _small_config(tmp_path, 'total_batch_size = 16\n')
    args = train.parse_args([str(config), '--work-dir', str(tmp_path / 'w'), '--launcher', launcher])
    cfg = train.apply_args(train.Config.fromfile(str(config)), args)
    assert cfg.train_dataloader.batch_size == 16 // world_size


def test_total_batch_size_errors(tmp_path, monkeypatch):
    train = _train_module()
    monkeypatch.setenv('WORLD_SIZE', '3')
    config = _small_config(tmp_path, 'total_batch_size = 16\n')
    args = train.parse_args([str(config), '--launcher', 'pytorch'])
    with pytest.raises(ValueError, match=r'total_batch_size=16 cannot be split evenly over 3 processes'):
        train.apply_args(train.Config.fromfile(str(config)), args)
    # An explicit per-process batch on the command line wins.
    args = train.parse_args([str(config), '--launcher', 'pytorch', '--cfg-options', 'train_dataloader.batch_size=5'])
    assert train.apply_args(train.Config.fromfile(str(config)), args).train_dataloader.batch_size == 5
    monkeypatch.setenv('WORLD_SIZE', 'x')
    args = train.parse_args([str(config), '--launcher', 'pytorch'])
    with pytest.raises(ValueError, match="WORLD_SIZE='x'"):
        train.apply_args(train.Config.fromfile(str(config)), args)


# --- User errors: one message and status 2; bugs keep their traceback -------------------------


def _run_failing(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return run_command(cmd, cwd=REPO, timeout=240, env=env)


def _empty_data_config(tmp_path: Path) -> Path:
    """The small demo config with every split's data_root at an empty folder."""
    empty = tmp_path / 'empty_data'
    empty.mkdir()
    base = _small_config(tmp_path)
    path = tmp_path / 'empty_data_demo.py'
    splits = ''.join(
        f'{split}_dataloader = dict(dataset=dict(data_root={str(empty)!r}))\n' for split in ('train', 'val', 'test')
    )
    path.write_text(f'_base_ = {str(base)!r}\n{splits}')
    return path


def _boom_plugin(tmp_path: Path) -> tuple[Path, dict]:
    """A config whose custom_imports module raises (a bug, not a user error) and its environment."""
    plugin = tmp_path / 'plugin'
    plugin.mkdir()
    (plugin / 'boom_plugin.py').write_text("raise RuntimeError('boom: a bug in a plugin')\n")
    config = _small_config(tmp_path, "custom_imports = dict(imports=['boom_plugin'], allow_failed_imports=False)\n")
    return config, dict(os.environ, PYTHONPATH=f'{plugin}{os.pathsep}{REPO}')


def test_misspelt_cfg_option_exits_2_with_the_suggestion(tmp_path):
    config = _small_config(tmp_path)
    cmd = [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), '--work-dir', str(tmp_path / 'run')]
    result = _run_failing([*cmd, '--cfg-options', 'train_cfg.max_iters=2', 'load_fromm=x.pth'])
    assert result.returncode == 2, result.stderr[-3000:]
    assert (
        "train.py: error: ConfigError: --cfg-options load_fromm=x.pth: the config has no key 'load_fromm'"
        in result.stderr
    )
    assert "did you mean 'load_from'?" in result.stderr and '+load_fromm=' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'run').exists()  # stopped before anything ran

    debug = _run_failing([*cmd, '--debug', '--cfg-options', 'train_cfg.max_iters=abc'])
    assert debug.returncode == 2
    assert 'Traceback (most recent call last)' in debug.stderr
    assert "train_cfg.max_iters=abc: expected an int like the config value 500, got the string 'abc'" in debug.stderr


def test_dataset_error_exits_2_with_one_message(tmp_path):
    config = _empty_data_config(tmp_path)
    result = _run_failing(
        [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), '--work-dir', str(tmp_path / 'w')]
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert 'train.py: error: DatasetNotFoundError: BrainAtlasDataset: image folder' in result.stderr
    assert result.stderr.count('does not exist') == 1
    assert 'Traceback' not in result.stderr


def test_a_bug_keeps_its_traceback(tmp_path):
    config, env = _boom_plugin(tmp_path)
    result = _run_failing([sys.executable, str(REPO / 'tools' / 'train.py'), str(config)], env=env)
    assert result.returncode == 1
    assert 'Traceback (most recent call last)' in result.stderr and 'RuntimeError: boom' in result.stderr


@pytest.mark.slow
@pytest.mark.dist
def test_dist_train_prints_an_error_every_rank_hits_once(tmp_path):
    config = _empty_data_config(tmp_path)
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable)
    cmd = ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config), '2', '--work-dir', str(tmp_path / 'dist')]
    result = _run_failing(cmd, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 2, log[-3000:]
    assert log.count('DatasetNotFoundError') == 1 and log.count('does not exist') == 1, log[-3000:]
    assert re.search(r'^train\.py: rank [01] exited with status 2 \(its error is above\)$', result.stderr, re.M)
    # No traceback and none of torchrun's failure report around it.
    for wall in ('Traceback', 'ChildFailedError', 'Root Cause', 'failed (exitcode', '=' * 20):
        assert wall not in log, wall

    # A bug still shows its traceback (under torchrun, one per rank) and exits 1.
    config, bug_env = _boom_plugin(tmp_path)
    bug_env.update(PORT=str(free_port()), PYTHON=sys.executable)
    bug = _run_failing(['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config), '2'], env=bug_env)
    assert bug.returncode == 1, bug.stderr[-3000:]
    assert 'Traceback' in bug.stderr and 'RuntimeError: boom' in bug.stderr
    assert re.search(r'^train\.py: rank [01] exited with status 1', bug.stderr, re.M)
