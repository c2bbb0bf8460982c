"""Synchronised batch normalisation fused with an activation, and in-place ABN.

Batch normalisation ("Batch Normalization", Ioffe & Szegedy, 2015) whose batch
statistics are taken over every rank of a process group, fused with an
activation ``act`` in {identity, relu, leaky_relu}:

    y = act((x - mean) * invstd * weight + bias),   invstd = 1 / sqrt(var + eps)

Training: each rank computes its per-channel ``(count, mean, M2)`` with one pass
over its data, the ranks all-gather them and combine them exactly with Chan et
al.'s parallel formula (unequal per-rank batch sizes, even empty ranks, are
weighted by their counts; PyTorch-Encoding's DistSyncBatchNorm averaged the
per-rank means instead). The running variance is updated with the unbiased
variance, as ``torch.nn.BatchNorm`` does. The backward all-reduces the two
per-channel sums ``sum(dz)`` and ``sum(dz * xhat)`` (``dz = grad_y * act'(z)``)
and returns the LOCAL sums as the weight and bias gradients, since
DistributedDataParallel averages parameter gradients itself.

In-place ABN ("In-Place Activated BatchNorm", Rota Bulo et al., 2018) writes y
into x and keeps only y for the backward, which recovers ``xhat = (act^{-1}(y) -
bias) / weight``; this needs an invertible activation (identity, or leaky_relu
with slope > 0) and a weight away from 0 (see :func:`sync_batch_norm`).
"""

from __future__ import annotations

import math
from types import ModuleType, SimpleNamespace

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._ext import get_ext
from ._sync_bn_torch import ACTIVATIONS, MIN_INPLACE_WEIGHT, TORCH_KERNELS, activate
from ._utils import FLOAT_DTYPES, check_same_dtype_device, check_size, check_tensor, is_exporting

_OP = 'sync_batch_norm'
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def sync_batch_norm_reference(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    activation: str = 'identity',
    slope: float = 0.01,
) -> torch.Tensor:
    """Local (single-process) batch norm plus activation in plain PyTorch.

    ``y = act((x - mean) / sqrt(var + eps) * weight + bias)`` with the batch
    statistics over ``(N, *)`` when ``training`` (the running statistics are then
    updated in place with ``momentum`` and the unbiased variance), else the running
    statistics.

    Args:
        x: Input, shape ``(N, C, *)``.
        running_mean: Running mean, shape ``(C,)``, or ``None``.
        running_var: Running variance, shape ``(C,)``, or ``None``.
        weight: Scale, shape ``(C,)``, or ``None`` for ones.
        bias: Shift, shape ``(C,)``, or ``None`` for zeros.
        training: Use (and track) batch statistics.
        momentum: Weight of the batch statistics in the running-statistics update.
        eps: Added to the variance.
        activation: ``'identity'``, ``'relu'`` or ``'leaky_relu'``.
        slope: Negative slope of leaky_relu.

    Returns:
        ``y``, shape ``(N, C, *)``.
    """
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return activate(y, activation, slope)


def _group_size(process_group: dist.ProcessGroup | None) -> int:
    """Ranks that share statistics; 1 when torch.distributed is not initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(process_group)


# (the world group it was made for, SyncBN's own group of the same ranks or None); see _statistics_group.
_STATISTICS_GROUP: tuple[object, dist.ProcessGroup | None] | None = None


def _statistics_group(device: torch.device) -> dist.ProcessGroup | None:
    """The group SyncBN uses for ``process_group=None``: the world's ranks, in a gloo group of its own on the CPU.

    DistributedDataParallel all-reduces gradient buckets on the world group while the backward
    runs, and gloo runs a group's collectives in the order they were issued, so a SyncBN
    all-reduce issued on the world group waits for the buckets ahead of it. Measured on 2 CPU
    processes: a 12 KiB all-reduce took 1.6 ms alone and 40 ms behind two 25 MiB ones, but
    4.9 ms on a group of its own; an EncNet-R50-D8 step under DDP took 1.27x as long with SyncBN
    as with BN on the world group, 1.00x on its own group (README: SyncBN in a real model). NCCL
    (CUDA tensors) keeps the world group, as ``torch.nn.SyncBatchNorm`` does. Made by the first
    distributed SyncBN call, which every rank makes at the same point of the same model
    (``new_group`` needs every rank), and made again for a new world group.
    """
    global _STATISTICS_GROUP
    world = dist.group.WORLD
    if _STATISTICS_GROUP is None or _STATISTICS_GROUP[0] is not world:
        own = device.type == 'cpu' and 'gloo' in str(dist.get_backend())
        _STATISTICS_GROUP = (world, dist.new_group(backend='gloo') if own else None)
    return _STATISTICS_GROUP[1]


def _global_stats(
    count: int, mean: torch.Tensor, m2: torch.Tensor, process_group: dist.ProcessGroup | None
) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Combines every rank's ``(count, mean, M2)`` (Chan et al.'s parallel formula).

    ``n = sum n_i``, ``mean = sum n_i mean_i / n``, ``M2 = sum M2_i + sum n_i (mean_i -
    mean)^2``: exact for any per-rank counts, including 0. Gathered and combined in
    float64 so that counts stay exact integers.

    Returns:
        The global count, mean ``(C,)`` and M2 ``(C,)`` (float64).
    """
    local = torch.stack([torch.full_like(mean, count), mean, m2]).to(torch.float64)  # (3, C)
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size(process_group))]
    dist.all_gather(gathered, local, group=process_group)
    counts, means, m2s = torch.stack(gathered).unbind(dim=1)  # each (world, C)
    total = counts.sum(dim=0)
    global_mean = (counts * means).sum(dim=0) / total.clamp(min=1)
    global_m2 = m2s.sum(dim=0) + (counts * (means - global_mean).square()).sum(dim=0)
    return int(total[0].item()), global_mean, global_m2


def _inplace_weight(weight: torch.Tensor) -> torch.Tensor:
    """``sign(w) * max(|w|, MIN_INPLACE_WEIGHT)`` with sign(0) = +1."""
    return torch.where(weight >= 0, weight.clamp(min=MIN_INPLACE_WEIGHT), weight.clamp(max=-MIN_INPLACE_WEIGHT))


class SyncBatchNormFunction(torch.autograd.Function):
    """Batch norm + activation over the ranks of a process group, by ``kernels``.

    ``kernels`` is the compiled extension or :data:`TORCH_KERNELS`. With ``inplace``
    the output is written into ``x`` (marked dirty and returned) and the backward
    works from it alone; otherwise ``x`` is saved.
    """

    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        training: bool,
        momentum: float | None,
        eps: float,
        activation: int,
        slope: float,
        inplace: bool,
        process_group: dist.ProcessGroup | None,
        distributed: bool,
        kernels: ModuleType | SimpleNamespace,
    ) -> torch.Tensor:
        N, C = x.shape[:2]
        L = math.prod(x.shape[2:])
        x3 = x.reshape(N, C, L)
        if not x3.is_contiguous():
            x3 = x3.contiguous()
        if training:
            mean, m2 = kernels.sync_bn_stats(x3)
            count = N * L
            if distributed:
                count, mean, m2 = _global_stats(count, mean, m2, process_group)
            if count <= 1:
                raise ValueError(
                    f'{_OP}: expected more than 1 value per channel when training (over all ranks), '
                    f'got input shape {tuple(x.shape)} and a total count of {count}'
                )
            var = m2 / count
            if running_mean is not None:
                with torch.no_grad():
                    running_mean.copy_(running_mean * (1 - momentum) + mean * momentum)
                    running_var.copy_(running_var * (1 - momentum) + m2 / (count - 1) * momentum)
        else:
            count = N * L
            # A copy: the backward must not see later updates of the buffer.
            mean, var = running_mean.to(x.dtype, copy=True), running_var
        mean = mean.to(x.dtype)
        invstd = torch.rsqrt(var.to(torch.float64) + eps).to(x.dtype)
        weight = _inplace_weight(weight) if inplace else weight
        weight, bias = weight.detach().contiguous(), bias.detach().contiguous()

        y3 = kernels.sync_bn_forward(x3, mean, invstd, weight, bias, activation, slope, inplace)
        if inplace:
            if not x.is_contiguous():  # the kernel wrote into a contiguous copy
                x.copy_(y3.view(x.shape))
            ctx.mark_dirty(x)  # also bumps x's version, so earlier users of x's old values fail loudly
            out = saved = x  # only y is kept; the backward recovers x from it
        else:
            # Returned in x's shape and detached from the (N, C, L) tensor the kernel made: a
            # view of a tensor made inside forward could not be modified in place (e.g. by
            # ReLU(inplace)), and a view made outside the Function could, but at the price of a
            # CopySlices node whose backward copies the whole gradient three times.
            out = y3.view(x.shape).detach()
            saved = x3
        ctx.save_for_backward(saved, mean, invstd, weight, bias)
        ctx.x_shape = x.shape
        ctx.config = ((N, C, L), training, count, activation, slope, inplace, process_group, distributed, kernels)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        saved, mean, invstd, weight, bias = ctx.saved_tensors
        shape3, training, count, activation, slope, inplace, process_group, distributed, kernels = ctx.config
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        saved = saved.reshape(shape3).contiguous()
        grad_y = grad_out.reshape(shape3).contiguous()
        grad_x = grad_w = grad_b = None
        if need_w or need_b or (need_x and training):
            sum_dz, sum_dz_xhat = kernels.sync_bn_backward_reduce(
                grad_y, saved, mean, invstd, weight, bias, activation, slope, inplace
            )
            grad_w = sum_dz_xhat if need_w else None
            grad_b = sum_dz if need_b else None
        if need_x:
            if training:
                sums = torch.stack([sum_dz, sum_dz_xhat])
                if distributed:
                    dist.all_reduce(sums, group=process_group)
                mean_dz, mean_dz_xhat = (sums / count).unbind(0)
            else:
                mean_dz = mean_dz_xhat = torch.zeros_like(mean)
            grad_x = kernels.sync_bn_backward_elemt(
                grad_y,
                saved,
                mean,
                invstd,
                weight,
                bias,
                mean_dz.contiguous(),
                mean_dz_xhat.contiguous(),
                activation,
                slope,
                inplace,
            )
            grad_x = grad_x.view(ctx.x_shape)
        return grad_x, grad_w, grad_b, None, None, None, None, None, None, None, None, None, None, None


def check_activation(owner: str, activation: str, slope: float, inplace: bool) -> None:
    """Checks the activation name, and that in-place ABN can invert it.

    Raises:
        ValueError: naming ``owner``, when ``activation`` is unknown or ``inplace``
            is asked with an activation that cannot be inverted to recover x from y.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'{owner}: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}')
    if inplace and not (activation == 'identity' or (activation == 'leaky_relu' and slope > 0)):
        raise ValueError(
            f"{owner}: inplace=True needs an invertible activation ('identity', or 'leaky_relu' with "
            f'slope > 0) because the backward recovers x from y; got {activation!r} with slope {slope}'
        )


def _check_args(
    x: object,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    training: bool,
    momentum: float | None,
    activation: str,
    slope: float,
    inplace: bool,
    low_precision: bool = False,
) -> None:
    """Raises ValueError naming the argument; ``low_precision``: a float16/bfloat16 ``x`` under autocast,
    whose float32 parameters need only share its device."""
    if not isinstance(x, torch.Tensor) or not 2 <= x.dim() <= 5:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f'{_OP}: x must be a tensor of shape (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W), got {shape}'
        )
    if x.dtype not in (_LOW_PRECISION if low_precision else FLOAT_DTYPES):
        raise ValueError(
            f'{_OP}: x must be float32 or float64 (float16/bfloat16 only under autocast, which '
            f'computes in float32), got {x.dtype}'
        )
    C = x.shape[1]
    for name, value in (('weight', weight), ('bias', bias)):
        if value is not None:
            check_tensor(_OP, name, value, '(C,)', 1)
            check_size(_OP, name, value, 0, C, '(C,)', 'the channels of x')
            if not low_precision:
                check_same_dtype_device(_OP, [('x', x), (name, value)])
            elif value.device != x.device:
                raise ValueError(f'{_OP}: {name} must be on the device of x ({x.device}), got {value.device}')
    if (running_mean is None) != (running_var is None):
        raise ValueError(f'{_OP}: running_mean and running_var must both be tensors of shape (C,) or both None')
    for name, value in (('running_mean', running_mean), ('running_var', running_var)):
        if value is not None:
            # Any floating dtype: a half model under autocast keeps half buffers.
            if not isinstance(value, torch.Tensor) or value.dim() != 1 or not value.is_floating_point():
                raise ValueError(f'{_OP}: {name} must be a floating tensor of shape (C,), got {value!r}')
            check_size(_OP, name, value, 0, C, '(C,)', 'the channels of x')
            if value.device != x.device:
                raise ValueError(f'{_OP}: {name} must be on the device of x ({x.device}), got {value.device}')
    if not training and running_mean is None:
        raise ValueError(f'{_OP}: running_mean and running_var of shape (C,) are required when training=False')
    if training and running_mean is not None and momentum is None:
        raise ValueError(
            f'{_OP}: momentum must be a float when running statistics are updated; a cumulative '
            f'average (momentum=None) needs the batch count, which SyncBatchNorm tracks'
        )
    check_activation(_OP, activation, slope, inplace)


def _low_precision_batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    training: bool,
    momentum: float | None,
    eps: float,
    activation: str,
    slope: float,
) -> torch.Tensor:
    """Local batch norm + activation of a float16/bfloat16 ``x`` in its own precision (float32 statistics)."""
    _check_args(x, running_mean, running_var, weight, bias, training, momentum, activation, slope, False, True)
    # momentum is None only without running statistics (checked), which F.batch_norm then ignores.
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, 0.0 if momentum is None else momentum, eps)
    if activation == 'relu':
        return F.relu_(y)
    if activation == 'leaky_relu':
        return F.leaky_relu_(y, slope)
    return y


def sync_batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    training: bool,
    momentum: float | None,
    eps: float,
    activation: str = 'identity',
    slope: float = 0.01,
    inplace: bool = False,
    process_group: dist.ProcessGroup | None = None,
) -> torch.Tensor:
    """Batch norm + activation with statistics synchronised over ``process_group``.

    ``y = act((x - mean) / sqrt(var + eps) * weight + bias)``. In training the batch
    statistics are taken over ``(N, *)`` of every rank of the group (when
    torch.distributed is initialised and the group has more than one rank; else
    locally) and the running statistics, when given, are updated in place:
    ``r = (1 - momentum) * r + momentum * s`` with the unbiased variance. Otherwise
    the running statistics normalise.

    With ``inplace=True`` (in-place ABN) ``y`` is written into ``x``'s storage and
    ``x`` is returned; only ``y`` is kept for the backward, which recovers ``x``
    from it. The weight used (forward and backward) is then
    ``sign(w) * max(|w|, 1e-5)`` with sign(0) = +1, so that ``x`` stays recoverable
    when a weight is (near) 0; its gradient is passed to ``w`` unchanged.

    During export (ONNX, ``torch.export``, ``torch.jit.trace``) a local batch norm is
    :func:`sync_batch_norm_reference`, so the graph holds plain batch-norm ops; an
    ``inplace`` one then returns a new tensor (with the clamped weight) and leaves ``x``.

    Autocast: the kernels compute in float32/float64 only. Under autocast, when the
    statistics are local (one process, or evaluation) and not ``inplace``, a
    float16/bfloat16 ``x`` goes through ``torch.nn.functional.batch_norm`` in its own
    precision, as ``nn.BatchNorm2d`` does under autocast: the statistics are accumulated in
    float32, float32 weights and running statistics stay float32 (and are updated), and
    ``y`` keeps ``x``'s dtype, so the next convolution does not cast again (casting every
    activation to float32 and back made a bf16 EncNet step 1.08x faster than float32
    instead of 1.87x). Otherwise (statistics shared across ranks, or ``inplace``) ``x``
    (and half parameters) are cast to float32 and the result is float32, which the next
    autocast op casts back. This is done here rather than by ``float32_under_autocast``,
    which would also cast half running-statistics buffers to temporary copies and lose
    their update; note that ``inplace`` then writes into the float32 copy, not into the
    half ``x``.

    Args:
        x: Input, shape ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        running_mean: Running mean, shape ``(C,)``, or ``None``.
        running_var: Running variance, shape ``(C,)``, or ``None``.
        weight: Scale, shape ``(C,)``, or ``None`` for ones.
        bias: Shift, shape ``(C,)``, or ``None`` for zeros.
        training: Normalise with batch statistics (and update the running ones).
        momentum: Weight of the batch statistics in the running-statistics update;
            ``None`` only when no running statistics are updated (the layer turns
            ``momentum=None`` into a cumulative average itself).
        eps: Added to the variance.
        activation: ``'identity'``, ``'relu'`` or ``'leaky_relu'``.
        slope: Negative slope of leaky_relu.
        inplace: In-place ABN; needs ``'identity'`` or ``'leaky_relu'`` with
            ``slope > 0``.
        process_group: Group whose ranks share statistics; ``None`` for the world (on the
            CPU with gloo, a duplicate of it, so that the statistics do not queue behind
            DistributedDataParallel's gradient all-reduces; see :func:`_statistics_group`).

    Returns:
        ``y``, shape of ``x`` (``x`` itself when ``inplace``).

    Raises:
        ValueError: naming the argument, for a wrong shape, dtype, device or
            activation, or too few values per channel in training.
    """
    device_type = x.device.type if isinstance(x, torch.Tensor) else 'cpu'
    if torch.is_autocast_enabled(device_type):
        local = not (training and _group_size(process_group) > 1)
        if local and not inplace and isinstance(x, torch.Tensor) and x.dtype in _LOW_PRECISION:
            with torch.autocast(device_type, enabled=False):
                return _low_precision_batch_norm(
                    x, running_mean, running_var, weight, bias, training, momentum, eps, activation, slope
                )

        def to32(t):
            return t.float() if isinstance(t, torch.Tensor) and t.dtype in _LOW_PRECISION else t

        with torch.autocast(device_type, enabled=False):
            return sync_batch_norm(
                to32(x),
                running_mean,
                running_var,
                to32(weight),
                to32(bias),
                training,
                momentum,
                eps,
                activation,
                slope,
                inplace,
                process_group,
            )

    _check_args(x, running_mean, running_var, weight, bias, training, momentum, activation, slope, inplace)
    N, C = x.shape[:2]
    distributed = training and _group_size(process_group) > 1
    if distributed and process_group is None:
        process_group = _statistics_group(x.device)
    if training and not distributed and x.numel() // max(C, 1) <= 1:
        raise ValueError(
            f'{_OP}: expected more than 1 value per channel when training, got x of shape {tuple(x.shape)}'
        )
    ext = get_ext(_OP, x.device)
    # In-place ABN only saves activation memory for a backward; an exported graph has no
    # backward (and ONNX no in-place ops), so it computes the same values out of place.
    exported_inplace = inplace and is_exporting()
    if ext is None and not distributed and (not inplace or exported_inplace):
        return sync_batch_norm_reference(
            x,
            running_mean,
            running_var,
            _inplace_weight(weight) if exported_inplace and weight is not None else weight,
            bias,
            training,
            0.0 if momentum is None else momentum,
            eps,
            activation,
            slope,
        )
    if weight is None:
        weight = x.new_ones(C)
    if bias is None:
        bias = x.new_zeros(C)
    kernels = TORCH_KERNELS if ext is None else ext
    out = SyncBatchNormFunction.apply(
        x,
        weight,
        bias,
        running_mean,
        running_var,
        training,
        momentum,
        eps,
        ACTIVATIONS[activation],
        float(slope),
        inplace,
        process_group,
        distributed,
        kernels,
    )
    return out
