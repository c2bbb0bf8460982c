"""Fixtures of the decode-head tests: tiny multi-level features, labelled samples, a builder."""

import importlib
from collections.abc import Callable

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.registry import MODELS
from segtools.structures import SegDataSample

# (channels, side) of the four levels, finest first: strides 4, 8, 16, 16 of a 64x64 image.
LEVELS = ((4, 16), (8, 8), (12, 4), (16, 4))
NUM_CLASSES = 3
# Modules the heads' default losses live in (segtools.models imports them too; these are enough to build a head).
LOSS_MODULES = ('segtools.models.losses.cross_entropy_loss', 'segtools.models.losses.se_loss')


@pytest.fixture
def feats() -> list[torch.Tensor]:
    """Backbone-like outputs ``(2, C_i, S_i, S_i)`` for :data:`LEVELS`."""
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(2, c, s, s, generator=gen) for c, s in LEVELS]


@pytest.fixture
def build_head() -> Callable[[dict], torch.nn.Module]:
    """Builds a head config (``num_classes`` and a BN ``norm_cfg`` filled in) in the segtools scope."""
    for name in LOSS_MODULES:
        importlib.import_module(name)

    def build(cfg: dict) -> torch.nn.Module:
        cfg = {'num_classes': NUM_CLASSES, 'norm_cfg': dict(type='BN'), **cfg}
        with DefaultScope.overwrite_default_scope('segtools'):
            return MODELS.build(cfg)

    return build


@pytest.fixture
def make_samples() -> Callable[[int, int, int], list[SegDataSample]]:
    """``n`` samples with random ``(1, h, w)`` labels in ``[0, NUM_CLASSES)`` and some 255s."""

    def make(n: int = 2, h: int = 32, w: int = 32) -> list[SegDataSample]:
        gen = torch.Generator().manual_seed(1)
        samples = []
        for _ in range(n):
            label = torch.randint(0, NUM_CLASSES, (1, h, w), generator=gen)
            label[:, :2] = 255
            sample = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w)))
            sample.gt_sem_seg = PixelData(data=label)
            samples.append(sample)
        return samples

    return make
