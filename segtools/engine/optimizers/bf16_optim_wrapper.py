"""Mixed precision without a GPU: bfloat16 autocast, float32 weights, no loss scaling."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from segtools.registry import OPTIM_WRAPPERS

# AmpOptimWrapper's own arguments (float16 loss scaling), which bfloat16 does not take.
FP16_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


def bf16_wrapper_cfg(optim_wrapper: dict) -> dict:
    """An ``optim_wrapper`` config (``OptimWrapper`` or ``AmpOptimWrapper``) as ``BF16OptimWrapper``.

    What ``tools/train.py --amp`` trains with when there is no GPU: the same optimizer,
    clipping and accumulation, without the float16-only arguments.
    """
    cfg = {key: value for key, value in optim_wrapper.items() if key not in FP16_ONLY_KEYS}
    cfg['type'] = 'BF16OptimWrapper'
    return cfg


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast(device_type, dtype=torch.bfloat16)``.

    mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU device; this is the CPU counterpart
    (``tools/train.py --amp`` picks it when there is no GPU). Convolutions and matrix products
    run in bfloat16; the weights, their gradients and the optimizer state stay float32 (autocast
    casts a copy of each weight per forward). bfloat16 has float32's exponent range, so no loss
    scaling is needed, unlike float16. segtools' Encoding and SyncBN ops compute in float32
    under autocast (their statistics stay float32), as do the ops autocast lists as
    float32-only (softmax, losses, norms).

    Args:
        device_type: The autocast device (``'cpu'``; ``'cuda'`` also works, with bfloat16).
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, *args, device_type: str = 'cpu', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if device_type not in ('cpu', 'cuda'):
            raise ValueError(f"BF16OptimWrapper: device_type must be 'cpu' or 'cuda', got {device_type!r}")
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's context (gradient accumulation) plus bfloat16 autocast around the forward."""
        with super().optim_context(model), torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            yield
