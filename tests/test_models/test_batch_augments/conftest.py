"""A one-hot labelled batch, as ClsDataPreProcessor hands it to its batch augments."""

import pytest
import torch
import torch.nn.functional as F

from segtools.structures import ClsDataSample

NUM_CLASSES = 5


def one_hot_batch(n: int = 6, size: tuple[int, int] = (8, 10)) -> tuple[torch.Tensor, list[ClsDataSample]]:
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(n, 3, *size, generator=gen)
    samples = []
    for i in range(n):
        sample = ClsDataSample(metainfo=dict(img_path=f'{i}.png'))
        sample.gt_label = i % NUM_CLASSES
        sample.gt_score = F.one_hot(sample.gt_label, NUM_CLASSES).reshape(-1).float()
        samples.append(sample)
    return inputs, samples


@pytest.fixture
def batch() -> tuple[torch.Tensor, list[ClsDataSample]]:
    return one_hot_batch()
