"""Where transforms draw from: per-sample streams keyed by the sampler's draw, else a seeded process stream."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from segtools.datasets.samplers import DefaultSampler, SampleIndex
from segtools.datasets.transforms import RandomCrop, RandomFlip, RandomResize, TransformRNG


def _pipeline() -> Compose:
    return Compose(
        [
            RandomResize(scale=(40, 30), ratio_range=(0.5, 2.0), keep_ratio=True),
            RandomCrop(crop_size=(16, 16)),
            RandomFlip(prob=0.5),
        ]
    )


class _AugmentedDataset(torch.utils.data.Dataset):
    """What mmengine's BaseDataset does with an index: ``sample_idx`` in the sample, then the pipeline."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self.pipeline = _pipeline()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> np.ndarray:
        img = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3) + int(idx)
        results = self.pipeline(dict(img=img, img_shape=(30, 40), seg_fields=[], sample_idx=idx))
        return np.concatenate([results['img'].reshape(-1), np.asarray(results['scale'])])


def test_one_generator_per_sample_shared_by_the_pipeline():
    index = SampleIndex(2, (0, 0, 0, 9))
    flip, crop = RandomFlip(prob=0.5), RandomCrop(crop_size=(8, 8))
    results = dict(sample_idx=index)
    first = flip.rng(results)
    assert results['rng'] is first and crop.rng(results) is first
    assert first.random() == index.generator().random()
    # A transform's own seed mixes into the sample's key instead of replacing it.
    seeded = RandomFlip(prob=0.5, seed=7).rng(dict(sample_idx=index))
    assert seeded.random() == index.generator(7).random()
    assert RandomFlip(prob=0.5, seed=7).rng(dict(sample_idx=SampleIndex(2, (0, 0, 0, 10)))).random() != (
        index.generator(7).random()
    )


def _epochs(num_workers: int, persistent: bool) -> list[np.ndarray]:
    dataset = _AugmentedDataset()
    sampler = DefaultSampler(dataset, shuffle=True, seed=5)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=2,
        sampler=sampler,
        num_workers=num_workers,
        persistent_workers=persistent,
        multiprocessing_context='fork' if num_workers else None,
    )
    out = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        out.extend(batch.numpy() for batch in loader)
    return out


@pytest.mark.parametrize(('num_workers', 'persistent'), [(2, False), (2, True), (1, True)])
def test_augmentations_do_not_depend_on_workers(num_workers, persistent):
    reference = _epochs(0, False)
    assert len(reference) == 6
    # Different draws get different augmentations, and the second epoch is not a repeat of the first.
    assert len({batch.tobytes() for batch in reference}) == 6
    got = _epochs(num_workers, persistent)
    for expected, batch in zip(reference, got, strict=True):
        np.testing.assert_array_equal(batch, expected)


def test_a_plain_index_falls_back_to_the_transforms_process_stream():
    rng = TransformRNG()
    results = dict(sample_idx=3)
    stream = rng(results)
    assert 'rng' not in results and rng(dict(sample_idx=4)) is stream and rng() is stream
    assert TransformRNG()() is not stream


SEEDED_DRAWS = """
import sys, torch
torch.manual_seed(int(sys.argv[1]))
from segtools.datasets.transforms import RandomCrop, RandomFlip
flip, crop = RandomFlip(prob=0.5), RandomCrop(crop_size=(8, 8))
print([flip.rng().random(), crop.rng().random(), flip.rng().random()])
"""


def test_seedless_process_streams_follow_the_run_seed():
    def draws(seed: int) -> list[float]:
        result = subprocess.run([sys.executable, '-c', SEEDED_DRAWS, str(seed)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return eval(result.stdout.strip().splitlines()[-1])  # a printed list of floats

    first = draws(0)
    assert first == draws(0)  # the same command repeats
    assert first != draws(1)
    assert len(set(first)) == 3  # two transforms of one process do not share a stream


def test_transform_rng_rejects_non_generator():
    with pytest.raises(TypeError, match='Generator'):
        TransformRNG(0)({'rng': 3})


def test_transform_rng_matches_default_rng_in_main_process():
    np.testing.assert_array_equal(TransformRNG(5)().random(4), np.random.default_rng(5).random(4))


class _DrawDataset(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.rng = TransformRNG(seed=11)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> float:
        return float(self.rng().random())


def test_transform_rng_differs_across_workers_and_repeats():
    def draws():
        loader = torch.utils.data.DataLoader(
            _DrawDataset(), batch_size=1, num_workers=2, multiprocessing_context='fork'
        )
        return [float(x) for x in loader]

    first = draws()
    assert first == draws()
    # Batches alternate between the two workers; each must have its own stream.
    assert first[0] != first[1]
