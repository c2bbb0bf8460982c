"""mmengine's ``DefaultSampler`` whose indices carry the key of their draw."""

from collections.abc import Iterator

from mmengine.dataset import DefaultSampler as MMEngineDefaultSampler

from segtools.registry import DATA_SAMPLERS

from .sample_index import SampleIndex


@DATA_SAMPLERS.register_module()
class DefaultSampler(MMEngineDefaultSampler):
    """mmengine's ``DefaultSampler`` (same arguments, same order) yielding :class:`SampleIndex`.

    The draw key is ``(seed, rank, epoch, position in this rank's epoch)``, so every
    sample's augmentation is fixed by the run's seed and where the sample falls in the
    schedule; ``set_epoch`` (mmengine's ``DistSamplerSeedHook``) gives each epoch new draws.
    """

    def __iter__(self) -> Iterator[SampleIndex]:
        for position, index in enumerate(super().__iter__()):
            yield SampleIndex(index, (self.seed, self.rank, self.epoch, position))
