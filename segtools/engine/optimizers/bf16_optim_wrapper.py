"""Mixed precision without a GPU: bfloat16 autocast, float32 weights, no loss scaling."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from segtools.registry import OPTIM_WRAPPERS

# AmpOptimWrapper's own arguments (float16 loss scaling), which bfloat16 does not take.
FP16_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


def cpu_runs_bf16_natively() -> bool:
    """Whether oneDNN has bfloat16 kernels for this CPU (AVX-512 with BF16 conversions, or AMX).

    Elsewhere (e.g. AVX2-only x86 CPUs) PyTorch emulates bfloat16 convolutions: an order of
    magnitude slower than float32 (the demo model's evaluation: 26x on a 2-core AVX2 EPYC).
    """
    check = getattr(getattr(torch.ops, 'mkldnn', None), '_is_mkldnn_bf16_supported', None)
    if check is not None:
        return bool(check())
    return torch.backends.cpu.get_cpu_capability().startswith('AVX512')


def warn_if_bf16_is_emulated(what: str) -> bool:
    """Logs one warning, naming ``what``, when bfloat16 autocast on this CPU would be emulated.

    Returns:
        Whether it warned.
    """
    if cpu_runs_bf16_natively():
        return False
    print_log(
        f'{what}: this CPU has no bfloat16 kernels (oneDNN needs AVX-512 or AMX; this one offers '
        f'{torch.backends.cpu.get_cpu_capability()}), so bfloat16 autocast is emulated, about an order of '
        'magnitude slower than float32: float32 (without --amp) is faster on this machine',
        'current',
        level=logging.WARNING,
    )
    return True


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
        if device_type == 'cpu':
            warn_if_bf16_is_emulated('BF16OptimWrapper')

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's context (gradient accumulation) plus bfloat16 autocast around the forward."""
        with super().optim_context(model), torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            yield
