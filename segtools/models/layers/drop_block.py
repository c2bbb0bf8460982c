"""DropBlock2D with a linear ramp of the drop probability.

"DropBlock: A regularization method for convolutional networks" (Ghiasi, Lin and Le,
2018), as used by ResNeSt ("ResNeSt: Split-Attention Networks", Zhang et al., 2020)
in its last two stages.
"""

import torch
import torch.nn.functional as F
from torch import nn


def linear_ramp(step: int, start_step: int, nr_steps: int, start_value: float, stop_value: float) -> float:
    """Value of a linear ramp from ``start_value`` to ``stop_value`` at ``step``.

    The ramp holds ``start_value`` until ``start_step``, moves linearly over
    ``nr_steps`` steps (the ``nr_steps`` points of ``linspace(start_value,
    stop_value, nr_steps)``) and then holds ``stop_value``.

    Args:
        step: Current step.
        start_step: First step of the ramp.
        nr_steps: Number of steps of the ramp; ``<= 1`` jumps to ``stop_value``
            at ``start_step``.
        start_value: Value before and at ``start_step``.
        stop_value: Value at and after ``start_step + nr_steps - 1``.

    Returns:
        The ramp's value.
    """
    if step < start_step:
        return start_value
    if nr_steps <= 1:
        return stop_value
    t = min((step - start_step) / (nr_steps - 1), 1.0)
    return start_value + t * (stop_value - start_value)


class DropBlock2D(nn.Module):
    """Drops contiguous ``block_size x block_size`` regions of a feature map.

    Block centres are sampled with probability
    ``gamma = p / bs**2 * H * W / ((H - bs + 1) * (W - bs + 1))`` at every position,
    each grown into a block by a max pool, and the kept activations are rescaled by
    ``numel / kept`` so the expected sum is unchanged. The identity in eval mode and
    while ``drop_prob == 0``.

    The drop probability may follow a linear ramp (``reset_steps``); every training
    forward advances the ramp by one step, also while the probability is still 0.
    The ramp state is kept in plain attributes, not in the state dict, so
    checkpoints stay free of schedule state: call ``reset_steps`` with the current
    step after resuming.

    Args:
        drop_prob: Drop probability ``p`` (the ramp's start and stop value until
            ``reset_steps`` is called).
        block_size: Side ``bs`` of the dropped blocks.
        share_channel: Drop the same blocks in every channel.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)``.
    """

    def __init__(self, drop_prob: float, block_size: int, share_channel: bool = False) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f'DropBlock2D: drop_prob must be in [0, 1), got {drop_prob}')
        if block_size < 1:
            raise ValueError(f'DropBlock2D: block_size must be positive, got {block_size}')
        self.block_size = block_size
        self.share_channel = share_channel
        self.drop_prob = drop_prob
        self.step_count = 0
        self.reset_steps(0, 0, drop_prob, drop_prob)

    def reset_steps(self, start_step: int, nr_steps: int, start_value: float, stop_value: float) -> None:
        """Starts a linear ramp of ``drop_prob`` (see :func:`linear_ramp`).

        Args:
            start_step: Training step at which the ramp starts.
            nr_steps: Length of the ramp in steps.
            start_value: Drop probability before and at ``start_step``.
            stop_value: Drop probability at the end of the ramp and after it.
        """
        for value in (start_value, stop_value):
            if not 0.0 <= value < 1.0:
                raise ValueError(f'DropBlock2D: ramp values must be in [0, 1), got {value}')
        self.ramp = (start_step, nr_steps, start_value, stop_value)
        self.step_count = 0
        self.drop_prob = linear_ramp(0, *self.ramp)

    def step(self) -> None:
        """Sets ``drop_prob`` for the current step and advances the step counter."""
        self.drop_prob = linear_ramp(self.step_count, *self.ramp)
        self.step_count += 1

    def gamma(self, height: int, width: int) -> float:
        """Probability of a block centre at each position of an ``height x width`` map."""
        bs = self.block_size
        valid = max(height - bs + 1, 1) * max(width - bs + 1, 1)
        return self.drop_prob / bs**2 * height * width / valid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drops blocks of ``x`` (training only).

        Args:
            x: Features, shape ``(N, C, H, W)``.

        Returns:
            Features with dropped blocks rescaled, shape ``(N, C, H, W)``.
        """
        if not self.training:
            return x
        self.step()
        if self.drop_prob == 0.0:
            return x
        N, C, H, W = x.shape
        seed_shape = (N, 1, H, W) if self.share_channel else (N, C, H, W)
        seeds = (torch.rand(seed_shape, device=x.device) < self.gamma(H, W)).to(x.dtype)
        bs = self.block_size
        # Stride-1 max pool grows every seed into a bs x bs block; an even bs pads one
        # extra row/column, cropped away.
        dropped = F.max_pool2d(seeds, kernel_size=bs, stride=1, padding=bs // 2)[..., :H, :W]
        keep = 1.0 - dropped
        kept = keep.sum().clamp(min=1.0)
        return x * keep * (keep.numel() / kept)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}, block_size={self.block_size}, share_channel={self.share_channel}'


def reset_dropblock(module: nn.Module, start_step: int, nr_steps: int, start_value: float, stop_value: float) -> int:
    """Starts the same linear ramp in every ``DropBlock2D`` inside ``module``.

    Args:
        module: Model to search.
        start_step: Training step at which the ramp starts.
        nr_steps: Length of the ramp in steps.
        start_value: Drop probability at the start.
        stop_value: Drop probability at the end.

    Returns:
        The number of ``DropBlock2D`` layers reset.
    """
    count = 0
    for m in module.modules():
        if isinstance(m, DropBlock2D):
            m.reset_steps(start_step, nr_steps, start_value, stop_value)
            count += 1
    return count
