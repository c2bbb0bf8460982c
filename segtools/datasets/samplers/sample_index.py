"""Dataset indices that carry the key of their draw, so a sample's augmentation has a seed of its own.

A training sample's random transforms (crop window, flip, scale, colour jitter) should depend
on the run's seed and on *which draw* of the sampler it is, and on nothing else: not on the
data-loader worker that happens to process it, not on whether the workers are persistent, not
on a resume in between. :class:`SampleIndex` is an ``int`` (so datasets, wrappers and
collate functions use it as the plain index it is) with one more attribute, the draw key
``(seed, rank, epoch, position)``; segtools' samplers yield it and
:class:`~segtools.datasets.transforms.rng.TransformRNG` turns it into a generator.
"""

import numpy as np

# SeedSequence takes non-negative integers; seeds are folded into 64 bits.
_MASK64 = (1 << 64) - 1


class SampleIndex(int):
    """A dataset index with the key of the sampler draw that produced it.

    Args:
        index: The dataset index.
        key: ``(seed, rank, epoch, position)``: the sampler's seed, the process rank, the
            sampler's epoch and the position of this draw in the epoch's (or, for an
            endless sampler, the whole run's) index stream of this rank.
    """

    key: tuple[int, ...]

    def __new__(cls, index: int, key: tuple[int, ...]) -> 'SampleIndex':
        obj = super().__new__(cls, index)
        obj.key = tuple(int(part) & _MASK64 for part in key)
        return obj

    def __reduce__(self) -> tuple:
        # Batches of indices are pickled to the data-loader workers; keep the key.
        return (SampleIndex, (int(self), self.key))

    def __repr__(self) -> str:
        return f'SampleIndex({int(self)}, key={self.key})'

    def seed_sequence(self, *extra_entropy: int) -> np.random.SeedSequence:
        """The seed of this draw, optionally mixed with more entropy (e.g. a transform's own seed)."""
        seed, *spawn_key = self.key
        entropy = [seed, *(int(value) & _MASK64 for value in extra_entropy)]
        return np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key))

    def generator(self, *extra_entropy: int) -> np.random.Generator:
        """A fresh ``numpy.random.Generator`` seeded by :meth:`seed_sequence`."""
        return np.random.default_rng(self.seed_sequence(*extra_entropy))
