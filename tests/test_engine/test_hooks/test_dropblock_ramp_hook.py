"""DropBlockRampHook: PyTorch-Encoding's schedule (0 during warmup, then linear to the configured p)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from segtools.engine.hooks import DropBlockRampHook
from segtools.errors import ConfigError
from segtools.models.layers.drop_block import DropBlock2D


class _Net(nn.Module):
    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([DropBlock2D(p, 3), DropBlock2D(p, 3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def _runner(model: nn.Module, max_iters: int, iteration: int = 0, loader_len: int = 4) -> SimpleNamespace:
    return SimpleNamespace(model=model, max_iters=max_iters, iter=iteration, train_dataloader=[None] * loader_len)


def _probabilities(model: _Net, steps: int) -> list[float]:
    model.train()
    seen = []
    for _ in range(steps):
        model(torch.ones(1, 1, 8, 8))
        seen.append(model.blocks[0].drop_prob)
    return seen


def test_ramp_follows_the_reference_schedule():
    model = _Net(0.2)
    DropBlockRampHook(warmup_epochs=1).before_train(_runner(model, max_iters=12, loader_len=4))
    seen = _probabilities(model, 12)
    # reset_dropblock(warmup_iters=4, nr_iters=12 - 4, 0, 0.2): 0 up to and at the start, then
    # the 8 points of linspace(0, 0.2, 8) over iterations 4..11.
    np.testing.assert_allclose(seen, [0.0] * 4 + list(np.linspace(0.0, 0.2, 8)), rtol=0, atol=1e-12)
    assert model.blocks[1].drop_prob == pytest.approx(0.2)


def test_resume_continues_the_ramp():
    straight = _Net(0.3)
    DropBlockRampHook(warmup_iters=2).before_train(_runner(straight, max_iters=10))
    expected = _probabilities(straight, 10)[6:]
    resumed = _Net(0.3)
    DropBlockRampHook(warmup_iters=2).before_train(_runner(resumed, max_iters=10, iteration=6))
    assert _probabilities(resumed, 4) == pytest.approx(expected)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match='not both'):
        DropBlockRampHook(warmup_iters=3, warmup_epochs=1)
    with pytest.raises(ConfigError, match='covers the whole run'):
        DropBlockRampHook(warmup_iters=10).before_train(_runner(_Net(), max_iters=10))
    # A model without DropBlock: nothing to do (a warning), no error.
    DropBlockRampHook(warmup_iters=1).before_train(_runner(nn.Linear(2, 2), max_iters=10))
