"""The shared config pieces load with mmengine's Config and name registered types."""

from pathlib import Path

import mmengine.runner  # noqa: F401  (registers mmengine's hooks, loops, optimizers, visualizers)
import pytest
from mmengine.config import Config

import segtools.registry as registry

CONFIG_ROOT = Path(__file__).resolve().parents[2] / 'configs'
SCHEDULES = sorted((CONFIG_ROOT / '_base_' / 'schedules').glob('schedule_*k.py'))


def test_default_runtime_uses_segtools_scope():
    cfg = Config.fromfile(CONFIG_ROOT / '_base_' / 'default_runtime.py')
    assert cfg.default_scope == 'segtools'
    assert registry.VISUALIZERS.get(cfg.visualizer.type) is not None


@pytest.mark.parametrize('path', SCHEDULES, ids=[p.stem for p in SCHEDULES])
def test_schedule_types_resolve(path):
    assert len(SCHEDULES) == 4
    cfg = Config.fromfile(path)
    iters = int(path.stem.split('_')[1][:-1]) * 1000
    assert cfg.train_cfg.max_iters == iters and cfg.param_scheduler[0].end == iters
    assert registry.OPTIMIZERS.get(cfg.optimizer.type) is not None
    assert registry.PARAM_SCHEDULERS.get(cfg.param_scheduler[0].type) is not None
    assert registry.LOOPS.get(cfg.train_cfg.type) is not None
    for hook in cfg.default_hooks.values():
        assert registry.HOOKS.get(hook.type) is not None, hook.type
