"""Functional ops of segtools: plain-PyTorch references, autograd Functions and
dispatchers over the compiled extension ``segtools._ext``."""

from ._ext import BUILD_COMMAND, has_cuda_kernels, has_ext, reference_ops
from .encoding import aggregate, aggregate_reference, scaled_l2, scaled_l2_reference
from .rectify import conv_rectify, conv_rectify_reference
from .sync_bn import sync_batch_norm, sync_batch_norm_reference
from .upsampled_cross_entropy import (
    has_upsampled_cross_entropy_kernel,
    upsampled_cross_entropy,
    upsampled_cross_entropy_reference,
)

__all__ = [
    'BUILD_COMMAND',
    'has_ext',
    'has_cuda_kernels',
    'reference_ops',
    'scaled_l2',
    'scaled_l2_reference',
    'aggregate',
    'aggregate_reference',
    'conv_rectify',
    'conv_rectify_reference',
    'sync_batch_norm',
    'sync_batch_norm_reference',
    'upsampled_cross_entropy',
    'upsampled_cross_entropy_reference',
    'has_upsampled_cross_entropy_kernel',
]
