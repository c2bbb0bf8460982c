"""CutMix: a partner's box pasted, lambda corrected to the area really pasted."""

import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.batch_augments import CutMix
from segtools.models.batch_augments.cut_mix import cutmix_box
from segtools.registry import MODELS


def test_box_is_pasted_and_targets_use_the_corrected_lambda(batch):
    inputs, samples = batch
    height, width = inputs.shape[-2:]
    targets = torch.stack([s.gt_score for s in samples])
    cutmix = CutMix(alpha=1.0)
    torch.manual_seed(5)
    lam, perm, (top, bottom, left, right) = cutmix.sample_params(len(samples), height, width)
    torch.manual_seed(5)
    mixed, out = cutmix(inputs, samples)

    assert 0 <= top <= bottom <= height and 0 <= left <= right <= width
    assert lam == 1 - (bottom - top) * (right - left) / (height * width)
    inside = torch.zeros(height, width, dtype=torch.bool)
    inside[top:bottom, left:right] = True
    assert torch.equal(mixed[..., inside], inputs[perm][..., inside])
    assert torch.equal(mixed[..., ~inside], inputs[..., ~inside])
    mixed_targets = torch.stack([s.gt_score for s in out])
    assert torch.equal(mixed_targets, lam * targets + (1 - lam) * targets[perm])
    torch.testing.assert_close(mixed_targets.sum(dim=1), torch.ones(len(samples)))


def test_pasted_fraction_equals_one_minus_lambda_over_many_draws(batch):
    # Whatever the clipping, the target's partner weight is exactly the pasted fraction of pixels.
    inputs, samples = batch
    height, width = inputs.shape[-2:]
    cutmix = CutMix(alpha=0.5)
    torch.manual_seed(0)
    for _ in range(50):
        lam, _, (top, bottom, left, right) = cutmix.sample_params(len(samples), height, width)
        assert math.isclose(1 - lam, (bottom - top) * (right - left) / (height * width))


def test_border_clipping_shrinks_the_box_and_the_correction_follows():
    # Centre at the corner: only a quarter of the sqrt(1 - lam)-sided box lies inside.
    corner = SimpleNamespace(integers=lambda high: 0)
    lam = 0.36  # sides int(0.8 * 10) = 8 and int(0.8 * 20) = 16 before clipping
    assert cutmix_box(lam, 10, 20, corner) == (0, 4, 0, 8)
    middle = SimpleNamespace(integers=lambda high: high // 2)
    assert cutmix_box(lam, 10, 20, middle) == (1, 9, 2, 18)
    corrected = 1 - (4 * 8) / (10 * 20)
    assert corrected > lam


def test_samples_need_soft_targets(batch):
    inputs, samples = batch
    for sample in samples:
        del sample.gt_score
    with pytest.raises(ValueError, match='no gt_score'):
        CutMix(alpha=1.0)(inputs, samples)
    with pytest.raises(ValueError, match='alpha'):
        CutMix(alpha=0.0)


def test_registered():
    with DefaultScope.overwrite_default_scope('segtools'):
        assert isinstance(MODELS.build(dict(type='CutMix', alpha=1.0)), CutMix)
