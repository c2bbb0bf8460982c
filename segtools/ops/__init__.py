"""Functional ops of segtools: plain-PyTorch references, autograd Functions and
dispatchers over the compiled extension ``segtools._ext``."""

from ._ext import BUILD_COMMAND, has_cuda_kernels, has_ext, reference_ops

__all__ = ['BUILD_COMMAND', 'has_ext', 'has_cuda_kernels', 'reference_ops']
