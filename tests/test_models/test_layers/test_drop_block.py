"""Tests of DropBlock2D and its linear ramp."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segtools.models.layers.drop_block import DropBlock2D, linear_ramp, reset_dropblock


def expected_drop_fraction(gamma: float, block_size: int, height: int, width: int) -> float:
    """Mean over pixels of 1 - (1 - gamma)**n, n = seed positions whose block covers the pixel."""
    seeds = torch.ones(1, 1, height, width)
    kernel = torch.ones(1, 1, block_size, block_size)
    covers = F.conv2d(seeds, kernel, padding=block_size // 2)[..., :height, :width]
    return float((1 - (1 - gamma) ** covers).mean())


@pytest.mark.parametrize('start,nr_steps,lo,hi', [(0, 5, 0.0, 0.1), (3, 4, 0.05, 0.2), (2, 2, 0.0, 0.3)])
def test_linear_ramp_matches_linspace(start, nr_steps, lo, hi):
    ramp = np.linspace(lo, hi, nr_steps)
    steps = range(start + nr_steps + 3)
    assert len(steps) > 0
    for step in steps:
        idx = min(max(step - start, 0), nr_steps - 1)
        expected = lo if step < start else ramp[idx]
        assert linear_ramp(step, start, nr_steps, lo, hi) == pytest.approx(expected)


def test_one_step_ramp_jumps_to_stop_value():
    # linspace(lo, hi, 1) would be [lo] and never reach hi; a one-step ramp is a jump.
    assert [linear_ramp(s, 2, 1, 0.0, 0.3) for s in range(4)] == [0.0, 0.0, 0.3, 0.3]


def test_training_forward_advances_ramp():
    db = DropBlock2D(0.0, 3).train()
    db.reset_steps(start_step=2, nr_steps=3, start_value=0.0, stop_value=0.2)
    x = torch.randn(1, 2, 8, 8)
    seen = []
    for _ in range(7):
        db(x)
        seen.append(db.drop_prob)
    np.testing.assert_allclose(seen, [0.0, 0.0, 0.0, 0.1, 0.2, 0.2, 0.2])


def test_eval_and_zero_prob_are_identity():
    x = torch.randn(2, 3, 9, 9)
    assert DropBlock2D(0.3, 3).eval()(x) is x
    assert DropBlock2D(0.0, 3).train()(x) is x


@pytest.mark.parametrize('block_size', [3, 4])
@pytest.mark.parametrize('share_channel', [False, True])
def test_drop_fraction_and_rescaling(block_size, share_channel):
    torch.manual_seed(0)
    p, H, W = 0.1, 48, 40
    db = DropBlock2D(p, block_size, share_channel=share_channel).train()
    x = torch.ones(4, 16, H, W)
    out = db(x)
    assert out.shape == x.shape
    dropped = (out == 0).float().mean().item()
    expected = expected_drop_fraction(db.gamma(H, W), block_size, H, W)
    # Correlated blocks: a few thousand independent draws, std < 0.01.
    assert dropped == pytest.approx(expected, abs=0.03)
    assert dropped == pytest.approx(p, abs=0.04)
    # Kept activations are rescaled so that the total is preserved exactly.
    torch.testing.assert_close(out.sum(), x.sum())
    if share_channel:
        assert torch.equal(out[:, :1].expand_as(out), out)


def test_dropped_regions_are_blocks():
    torch.manual_seed(1)
    db = DropBlock2D(0.05, 5).train()
    out = db(torch.ones(1, 1, 32, 32))
    mask = (out == 0).float()
    assert mask.sum() > 0
    # Every dropped pixel lies in a 5x5 fully dropped window (possibly clipped by the border).
    eroded = -F.max_pool2d(-F.pad(mask, (2, 2, 2, 2), value=1.0), 5, stride=1)
    grown = F.max_pool2d(eroded, 5, stride=1, padding=2)
    assert torch.equal(grown * mask, mask)


def test_gradient_flows_through_kept_units():
    torch.manual_seed(2)
    db = DropBlock2D(0.2, 3).train()
    x = torch.randn(2, 4, 16, 16, requires_grad=True)
    out = db(x)
    out.sum().backward()
    scale = out.detach() / x.detach()
    kept = out.detach() != 0
    assert kept.any() and (~kept).any()
    torch.testing.assert_close(x.grad[kept], scale[kept])
    assert torch.all(x.grad[~kept] == 0)


def test_reset_dropblock_counts_and_resets():
    model = nn.Sequential(DropBlock2D(0.1, 3), nn.ReLU(), nn.Sequential(DropBlock2D(0.1, 3)))
    assert reset_dropblock(model, 0, 10, 0.0, 0.1) == 2
    assert all(m.drop_prob == 0.0 for m in model.modules() if isinstance(m, DropBlock2D))


def test_state_dict_holds_no_schedule():
    db = DropBlock2D(0.1, 3)
    assert db.state_dict() == {}


@pytest.mark.parametrize('kwargs', [dict(drop_prob=1.0, block_size=3), dict(drop_prob=0.1, block_size=0)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        DropBlock2D(**kwargs)
