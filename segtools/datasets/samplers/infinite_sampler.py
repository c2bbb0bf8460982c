"""mmengine's ``InfiniteSampler`` whose indices carry the key of their draw."""

from collections.abc import Iterable, Iterator, Sized

from mmengine.dataset import InfiniteSampler as MMEngineInfiniteSampler

from segtools.registry import DATA_SAMPLERS

from .sample_index import SampleIndex


@DATA_SAMPLERS.register_module()
class InfiniteSampler(MMEngineInfiniteSampler):
    """mmengine's ``InfiniteSampler`` (same arguments, same order) yielding :class:`SampleIndex`.

    Iteration-based training draws from one endless stream per rank; the draw key is
    ``(seed, rank, 0, position in that stream)``. mmengine resumes such a run by advancing
    the stream past the iterations already trained, so a resumed run sees the same
    samples with the same augmentations as an uninterrupted one.

    Args:
        dataset: The dataset.
        shuffle: Whether to shuffle each pass over the dataset.
        seed: The shuffle seed (the runner passes the run's seed); ``None`` draws one
            shared by all ranks.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        self.indices = self._keyed(self.indices)

    def _keyed(self, indices: Iterable[int]) -> Iterator[SampleIndex]:
        for position, index in enumerate(indices):
            yield SampleIndex(index, (self.seed, self.rank, 0, position))
