"""The PyTorch-Encoding schedule bases reproduce Encoding's learning-rate formulas.

``configs/_base_/schedules/encoding_*.py`` are built as mmengine's Runner builds them (the
optim wrapper through the segtools scope; epoch-based schedulers with
``convert_to_iter_based`` turned into per-iteration ones from the epoch length) on a tiny
module with ``backbone``/``neck``/``decode_head``/``auxiliary_head`` children, stepped
through the whole schedule, and compared with the closed forms of Encoding's
``LR_Scheduler`` (reference/pytorch_encoding.md 1(i)), with W warmup and N post-warmup
iterations:

- warmup: linear up to ``lr`` over W iterations;
- poly: ``lr * (1 - T / N) ** 0.9``; cos: ``0.5 * lr * (1 + cos(pi * T / N))``, T = t - W;
- step: ``lr * 0.1 ** (epoch // step)``.

mmengine discretises warmup and poly one iteration apart from Encoding (its LinearLR starts
at ``start_factor * lr`` and ends at ``lr`` on iteration W - 1; its PolyLR uses N - 1); the
tests pin mmengine's values and bound the gap to Encoding's.
"""

import copy
import math
from pathlib import Path

import mmengine.runner  # noqa: F401  (registers mmengine's hooks, loops, optimizers)
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from torch import nn

import segtools.registry as registry
from segtools.utils import register_all_modules

SCHEDULE_ROOT = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'schedules'
GENERIC = {'encoding_poly': 'poly', 'encoding_cos': 'cos', 'encoding_step': 'step'}
# PyTorch-Encoding's auto lr (per 16 images) and epochs, reference 1(j).
PUBLISHED = {
    'encoding_poly_ade20k-180e': (0.004, 180),
    'encoding_poly_pascal-context-80e': (0.001, 80),
    'encoding_poly_voc12aug-80e': (0.001, 80),
    'encoding_poly_voc12-50e': (0.0001, 50),
    'encoding_poly_coco-30e': (0.004, 30),
    'encoding_poly_cityscapes-240e': (0.004, 240),
}
HEADS = ('neck', 'decode_head', 'auxiliary_head')
EPOCH_LENGTH = 3  # iterations per epoch: small, so the full schedules step in milliseconds
STEP_EPOCHS = 40  # encoding_step.py's step size
REL_TOL = 1e-6


def _path(stem: str) -> Path:
    return SCHEDULE_ROOT / f'{stem}.py'


class TinySegmentor(nn.Module):
    """Just the parameter names an EncoderDecoder has: a backbone, a neck and two heads."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 1)
        self.neck = nn.Conv2d(4, 4, 1)
        self.decode_head = nn.Conv2d(4, 2, 1)
        self.auxiliary_head = nn.Conv2d(4, 2, 1)


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_all_modules()


def _build(cfg: Config, model: nn.Module, epoch_length: int) -> tuple:
    """The optim wrapper and the per-iteration schedulers, built like ``Runner`` does."""
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    schedulers = []
    for scheduler_cfg in copy.deepcopy(cfg.param_scheduler):
        scheduler_cls = registry.PARAM_SCHEDULERS.get(scheduler_cfg.pop('type'))
        assert scheduler_cfg.pop('convert_to_iter_based') is True and scheduler_cfg.by_epoch is True
        schedulers.append(
            scheduler_cls.build_iter_from_epoch(optim_wrapper.optimizer, **scheduler_cfg, epoch_length=epoch_length)
        )
    return optim_wrapper, schedulers


def _lr_per_iteration(cfg: Config, epoch_length: int = EPOCH_LENGTH) -> tuple[list[list[float]], list[str]]:
    """The lr of every param group at every iteration, and each group's module name."""
    model = TinySegmentor()
    optim_wrapper, schedulers = _build(cfg, model, epoch_length)
    names = {id(p): name.split('.')[0] for name, p in model.named_parameters()}
    groups = [names[id(group['params'][0])] for group in optim_wrapper.optimizer.param_groups]
    history = []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        history.append([group['lr'] for group in optim_wrapper.optimizer.param_groups])
        optim_wrapper.optimizer.step()  # the order Runner keeps: optimizer step, then scheduler step
        for scheduler in schedulers:
            scheduler.step()
    return history, groups


def _warmup_iters(cfg: Config, epoch_length: int = EPOCH_LENGTH) -> int:
    warmups = [s for s in cfg.param_scheduler if s.type == 'LinearLR']
    return sum(int(s.end - s.begin) for s in warmups) * epoch_length


def _expected(kind: str, base: float, t: int, warmup: int, total: int, start_factor: float = 1e-3) -> float:
    """Encoding's lr at iteration ``t`` in mmengine's discretisation (see the module docstring).

    Args:
        kind: ``'poly'``, ``'cos'`` or ``'step'``.
        base: The lr of the group.
        t: Iteration, 0-based.
        warmup: Warmup iterations W.
        total: All iterations.
        start_factor: LinearLR's first factor.
    """
    if t < warmup:
        return base * (start_factor + (1 - start_factor) * t / (warmup - 1))
    post = total - warmup
    if kind == 'poly':
        return base * (1 - (t - warmup) / (post - 1)) ** 0.9
    if kind == 'cos':
        return 0.5 * base * (1 + math.cos(math.pi * (t - warmup) / post))
    return base * 0.1 ** ((t // EPOCH_LENGTH) // STEP_EPOCHS)


def _assert_close(actual: float, expected: float, where: str) -> None:
    assert actual == pytest.approx(expected, rel=REL_TOL, abs=1e-15), f'{where}: lr {actual!r}, expected {expected!r}'


@pytest.mark.parametrize('stem', [*GENERIC, *PUBLISHED])
def test_schedule_types_resolve(stem):
    cfg = Config.fromfile(_path(stem))
    assert registry.OPTIM_WRAPPERS.get(cfg.optim_wrapper.type) is not None
    assert registry.OPTIMIZERS.get(cfg.optim_wrapper.optimizer.type) is not None
    for scheduler in cfg.param_scheduler:
        assert registry.PARAM_SCHEDULERS.get(scheduler.type) is not None, scheduler.type
    for key in ('train_cfg', 'val_cfg', 'test_cfg'):
        assert registry.LOOPS.get(cfg[key].type) is not None, cfg[key].type
    for hook in cfg.default_hooks.values():
        assert registry.HOOKS.get(hook.type) is not None, hook.type
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop' and cfg.train_cfg.val_interval == 10
    assert cfg.train_cfg.max_epochs % cfg.train_cfg.val_interval == 0  # the last epoch is validated too
    assert cfg.default_hooks.checkpoint.by_epoch is True
    # The scheduler ends with training; the top-level optimizer is the wrapped one.
    assert max(s.end for s in cfg.param_scheduler) == cfg.train_cfg.max_epochs
    assert cfg.optimizer == cfg.optim_wrapper.optimizer
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.momentum, optimizer.weight_decay) == ('SGD', 0.9, 1e-4)


@pytest.mark.parametrize('stem', [*GENERIC, *PUBLISHED])
def test_heads_and_neck_train_at_ten_times_the_backbone_lr(stem):
    cfg = Config.fromfile(_path(stem))
    model = TinySegmentor()
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    names = {id(p): name.split('.')[0] for name, p in model.named_parameters()}
    lrs = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            lrs[names[id(param)]] = group['lr']
    base = cfg.optim_wrapper.optimizer.lr
    assert lrs['backbone'] == pytest.approx(base)
    for head in HEADS:
        assert lrs[head] == pytest.approx(10 * base), head
    assert sum(len(g['params']) for g in optim_wrapper.optimizer.param_groups) == 8  # every parameter optimised


@pytest.mark.parametrize('stem', list(GENERIC))
def test_generic_schedules_follow_encoding_with_warmup(stem):
    cfg = Config.fromfile(_path(stem))
    kind = GENERIC[stem]
    history, groups = _lr_per_iteration(cfg)
    base = cfg.optim_wrapper.optimizer.lr
    total, warmup = len(history), _warmup_iters(cfg)
    assert warmup == EPOCH_LENGTH  # one warmup epoch
    for t, lrs in enumerate(history):
        for group, lr in zip(groups, lrs, strict=True):
            group_base = base * (10 if group in HEADS else 1)
            _assert_close(lr, _expected(kind, group_base, t, warmup, total), f'{stem} iteration {t} {group}')
    backbone = [lrs[groups.index('backbone')] for lrs in history]
    assert backbone[warmup] == pytest.approx(base, rel=REL_TOL)  # warmup ends at lr, as in Encoding
    assert backbone[0] == pytest.approx(1e-3 * base)
    if kind == 'step':
        # Encoding's step mode: x0.1 after epochs 40 and 80 of 120.
        assert backbone[STEP_EPOCHS * EPOCH_LENGTH - 1] == pytest.approx(base)
        assert backbone[STEP_EPOCHS * EPOCH_LENGTH] == pytest.approx(0.1 * base)
        assert backbone[-1] == pytest.approx(0.01 * base)
    else:
        assert backbone[-1] < 1e-3 * base


@pytest.mark.parametrize('stem', list(PUBLISHED))
def test_published_recipes_are_poly_without_warmup(stem):
    cfg = Config.fromfile(_path(stem))
    lr, epochs = PUBLISHED[stem]
    assert cfg.optim_wrapper.optimizer.lr == lr and cfg.train_cfg.max_epochs == epochs
    assert [s.type for s in cfg.param_scheduler] == ['PolyLR']
    assert (cfg.param_scheduler[0].power, cfg.param_scheduler[0].eta_min) == (0.9, 0.0)
    epoch_length = 2
    history, groups = _lr_per_iteration(cfg, epoch_length)
    total = len(history)
    assert total == epochs * epoch_length
    backbone = groups.index('backbone')
    for t, lrs in enumerate(history):
        _assert_close(lrs[backbone], lr * (1 - t / (total - 1)) ** 0.9, f'{stem} iteration {t}')
        # Encoding's exact form lr * (1 - t / total) ** 0.9 is at most lr * total ** -0.9 away
        # (x ** 0.9 is concave and the two arguments differ by at most 1 / total).
        encoding = lr * (1 - t / total) ** 0.9
        assert 0 <= encoding - lrs[backbone] <= lr * total**-0.9 * (1 + REL_TOL)
        for group, group_lr in zip(groups, lrs, strict=True):
            assert group_lr == pytest.approx(lrs[backbone] * (10 if group in HEADS else 1), rel=REL_TOL)


class _ToyModel(BaseModel):
    """A BaseModel with the segmentor's child names, trained on a constant loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = TinySegmentor()

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        features = self.net.neck(self.net.backbone(inputs))
        out = self.net.decode_head(features) + self.net.auxiliary_head(features)
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return out


class _RecordLR(Hook):
    """Records the backbone group's lr before every training iteration."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.lrs.append(runner.optim_wrapper.optimizer.param_groups[0]['lr'])


def test_runner_converts_epochs_with_the_dataloader_length(tmp_path):
    # The real path: Runner reads the epoch length from the dataloader (drop_last included).
    cfg = Config.fromfile(_path('encoding_poly'))
    recorder = _RecordLR()
    dataset = [dict(inputs=torch.rand(3, 4, 4)) for _ in range(9)]  # batch 2, drop_last: 4 iterations
    runner = Runner(
        model=_ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type=DefaultSampler, shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            drop_last=True,
        ),
        optim_wrapper=cfg.optim_wrapper,
        param_scheduler=cfg.param_scheduler,
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2),
        default_hooks=dict(cfg.default_hooks, logger=None, checkpoint=None),
        custom_hooks=[recorder],
        log_level='WARNING',
        default_scope='segtools',
    )
    runner.train()
    epoch_length, max_epochs = 4, cfg.train_cfg.max_epochs
    assert len(recorder.lrs) == 2 * epoch_length
    base = cfg.optim_wrapper.optimizer.lr
    total = max_epochs * epoch_length
    # The model's backbone parameters come first in named_parameters: group 0 is the backbone's.
    for t, lr in enumerate(recorder.lrs):
        _assert_close(lr, _expected('poly', base, t, epoch_length, total), f'runner iteration {t}')
