"""The random generator of a transform: seeded per sample, never from OS entropy mid-run.

Where a transform's randomness comes from, in order:

1. ``results['rng']``: a :class:`numpy.random.Generator` put in the sample by the caller
   (tests, or a dataset that wants its own scheme).
2. ``results['sample_idx']`` is a :class:`~segtools.datasets.samplers.SampleIndex` (what
   segtools' ``DefaultSampler``/``InfiniteSampler`` yield in training): the sample's draw key
   ``(seed, rank, epoch, position)`` seeds one generator for the whole pipeline of that sample,
   stored in ``results['rng']`` so the transforms after the first continue its stream. A
   transform with a ``seed`` of its own gets a generator from the draw key mixed with that seed.
   The augmentation of a sample is then fixed by the run's seed and the draw, whichever worker
   loads it, so the same command repeats exactly, workers differ (they load different draws),
   and a resumed run continues with the draws it would have made.
3. Otherwise (a plain index: inference, third-party samplers, dataset wrappers that remap
   indices) a stream per transform and process, created lazily: from the transform's ``seed``,
   or, without one, from ``torch.initial_seed()`` (the run's seed in the main process; mmengine's
   ``worker_init_fn`` derives each worker's from it) and the order in which transforms were
   built; extended with the rank and the data-loader worker id, so ranks and workers differ.
"""

import itertools
import os

import numpy as np
import torch
from mmengine.dist import get_rank
from torch.utils.data import get_worker_info

from ..samplers.sample_index import SampleIndex

# Build order of seedless transform generators: tells apart two random transforms of one pipeline.
_ORDINALS = itertools.count()


class TransformRNG:
    """The random generator of one transform instance (see the module docstring for the order).

    Args:
        seed: The transform's own seed; ``None`` (the default in configs) follows the run's.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._ordinal = next(_ORDINALS)
        self._rank = get_rank()
        self._pid: int | None = None
        self._generator: np.random.Generator | None = None

    def __call__(self, results: dict | None = None) -> np.random.Generator:
        """The generator for ``results`` (or the fallback stream when there is no sample)."""
        if results is not None:
            given = results.get('rng')
            if given is not None:
                if not isinstance(given, np.random.Generator):
                    raise TypeError(f"results['rng'] must be a numpy.random.Generator, got {type(given).__name__}")
                return given
            index = results.get('sample_idx')
            if isinstance(index, SampleIndex):
                if self.seed is not None:
                    return index.generator(self.seed)
                results['rng'] = index.generator()
                return results['rng']
        return self._process_stream()

    def _process_stream(self) -> np.random.Generator:
        pid = os.getpid()
        if self._generator is None or self._pid != pid:
            worker = get_worker_info()
            # The main process of rank 0 keeps ``default_rng(seed)`` exactly.
            spawn_key = (
                () if worker is None and self._rank == 0 else (self._rank, 0 if worker is None else worker.id + 1)
            )
            entropy = self.seed if self.seed is not None else [torch.initial_seed(), self._ordinal]
            self._generator = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))
            self._pid = pid
        return self._generator

    def __repr__(self) -> str:
        return f'TransformRNG(seed={self.seed})'
