"""Data samplers: mmengine's, with indices that carry the key of their draw (see ``SampleIndex``)."""

from .default_sampler import DefaultSampler
from .infinite_sampler import InfiniteSampler
from .sample_index import SampleIndex

__all__ = ['DefaultSampler', 'InfiniteSampler', 'SampleIndex']
