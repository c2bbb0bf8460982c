"""PyTorch-Encoding's DropBlock schedule: no blocks dropped during warmup, then a linear ramp."""

import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log

from segtools.errors import ConfigError
from segtools.models.layers.drop_block import DropBlock2D
from segtools.registry import HOOKS
from segtools.utils.state_dict_check import unwrap_model


@HOOKS.register_module()
class DropBlockRampHook(Hook):
    """Ramps every ``DropBlock2D`` of the model from 0 to its configured probability.

    PyTorch-Encoding's ImageNet recipe (``train_dist.py --dropblock-prob p``) keeps the drop
    probability at 0 for the warmup and raises it linearly to ``p`` over the remaining
    iterations (``reset_dropblock(warmup_iters, total_iters - warmup_iters, 0, p)``). ``p`` is
    what the backbone was built with (``dropblock_prob``). Each block's step counter is set to
    the run's iteration, so a resumed run continues the ramp where it was.

    Args:
        warmup_iters: Iterations before the ramp starts.
        warmup_epochs: The same in epochs (multiplied by the training loader's length);
            exclusive with ``warmup_iters``.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int = 0, warmup_epochs: int | None = None) -> None:
        if warmup_epochs is not None and warmup_iters:
            raise ConfigError('DropBlockRampHook: give warmup_iters or warmup_epochs, not both')
        if warmup_iters < 0 or (warmup_epochs is not None and warmup_epochs < 0):
            raise ConfigError(f'DropBlockRampHook: warmup must be >= 0, got {warmup_iters=} {warmup_epochs=}')
        self.warmup_iters = warmup_iters
        self.warmup_epochs = warmup_epochs

    def before_train(self, runner) -> None:
        blocks = [m for m in unwrap_model(runner.model).modules() if isinstance(m, DropBlock2D)]
        if not blocks:
            print_log(
                'DropBlockRampHook: the model has no DropBlock2D (dropblock_prob=0?); nothing to ramp',
                logger='current',
                level=logging.WARNING,
            )
            return
        start = self.warmup_iters
        if self.warmup_epochs is not None:
            start = self.warmup_epochs * len(runner.train_dataloader)
        total = runner.max_iters
        if start >= total:
            raise ConfigError(f'DropBlockRampHook: the warmup ({start} iterations) covers the whole run ({total})')
        for block in blocks:
            target = block.ramp[3]
            block.reset_steps(start, total - start, 0.0, target)
            block.step_count = runner.iter
        print_log(
            f'DropBlock: {len(blocks)} block(s) at drop probability 0 until iteration {start}, then linearly to '
            f'{blocks[0].ramp[3]} at iteration {total}',
            logger='current',
        )
