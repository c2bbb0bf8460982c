"""Validate every rank with the buffers the checkpoint holds: rank 0's."""

import torch.distributed as dist
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from torch import nn

from segtools.registry import HOOKS
from segtools.utils.state_dict_check import unwrap_model


def broadcast_buffers(model: nn.Module, src: int = 0) -> int:
    """Overwrites every buffer of ``model`` (BN running statistics ...) with rank ``src``'s.

    Args:
        model: The model, possibly wrapped (DDP); the same architecture on every rank.
        src: The rank whose buffers everyone takes.

    Returns:
        The number of buffers broadcast (0 outside a distributed run of 2+ processes).
    """
    if get_world_size() < 2:
        return 0
    buffers = list(unwrap_model(model).buffers())
    for buffer in buffers:
        dist.broadcast(buffer.data, src=src)
    return len(buffers)


@HOOKS.register_module()
class BufferBroadcastHook(Hook):
    """Gives every rank rank 0's buffers before validation.

    DDP broadcasts rank 0's buffers at the start of each *training* forward, and each rank
    then updates its own copy from its own batch (plain BN: its own running mean and
    variance). mmengine's validation calls the unwrapped model, so without this hook each rank
    would validate with its own statistics, and the val metric would describe none of the
    checkpoints: rank 0 saves its own state just before validating. With it, the metric the
    run logs is what ``tools/test.py`` reports for that checkpoint. The next training forward
    broadcasts rank 0's buffers anyway, so training is unchanged. SyncBN statistics agree
    across ranks already; broadcasting them is harmless.
    """

    priority = 'VERY_HIGH'

    def before_val_epoch(self, runner) -> None:
        """Broadcasts rank 0's buffers to the other ranks."""
        broadcast_buffers(runner.model)
