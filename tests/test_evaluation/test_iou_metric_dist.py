"""IoUMetric gives identical results in 1 process and in 2 gloo processes that split the samples.

The 2-process run goes through mmengine's own pieces: ``DefaultSampler`` shards (and, for an
odd count, pads) the indices, and ``Evaluator.evaluate(size)`` gathers the per-sample results
with ``collect_results`` and drops the padding.
"""

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from segtools.evaluation.metrics.iou_metric import IoUMetric
from segtools.structures import SegDataSample

from ..tool_process import free_port, start_method

CLASSES = ('a', 'b', 'c', 'd', 'e')  # 'e' never occurs
# 6 splits evenly; 5 makes the sampler repeat sample 0 on rank 1, which must not be counted twice.
SIZES = (6, 5)
BATCH = 2


def make_samples(num: int, seed: int = 0) -> list[SegDataSample]:
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(num):
        # Each image has its own size and content, so counting one twice would change the numbers.
        shape = (1, 5 + i, 7 + 2 * i)
        label = torch.randint(0, 4, shape, generator=g)
        label[torch.rand(shape, generator=g) < 0.15] = 255
        sample = SegDataSample(metainfo=dict(img_path=f'{i}.jpg'))
        sample.gt_sem_seg = PixelData(data=label)
        sample.pred_sem_seg = PixelData(data=torch.randint(0, 4, shape, generator=g))
        samples.append(sample)
    return samples


def evaluate(indices: list[int], samples: list[SegDataSample], size: int, collect_dir: str) -> dict:
    evaluator = Evaluator(IoUMetric(iou_metrics=('mIoU', 'mDice', 'mFscore'), collect_dir=collect_dir))
    evaluator.dataset_meta = dict(classes=CLASSES)
    for start in range(0, len(indices), BATCH):
        evaluator.process([samples[i] for i in indices[start : start + BATCH]])
    return evaluator.evaluate(size)


def _worker(rank: int, world_size: int, port: int, tmp: str) -> None:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
    try:
        out = {}
        for size in SIZES:
            samples = make_samples(size)
            indices = list(DefaultSampler(samples, shuffle=False))  # this rank's shard
            out[size] = {'indices': indices, 'metrics': evaluate(indices, samples, size, f'{tmp}/collect_{size}')}
        with open(f'{tmp}/rank{rank}.json', 'w') as f:
            json.dump(out, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.dist
def test_two_gloo_processes_match_one(tmp_path):
    single = {size: evaluate(list(range(size)), make_samples(size), size, str(tmp_path / 'single')) for size in SIZES}

    mp.start_processes(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method=start_method())

    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    for size in SIZES:
        shards = [ranks[r][str(size)]['indices'] for r in range(2)]
        assert sorted(set(shards[0]) | set(shards[1])) == list(range(size))  # each rank held about half
        assert abs(len(shards[0]) - len(shards[1])) <= 1 or size % 2
        if size % 2:
            assert len(shards[0]) + len(shards[1]) == size + 1  # one padded repeat was processed
        for r in range(2):
            # Every rank gets rank 0's result via broadcast; it must equal the single-process one exactly.
            assert ranks[r][str(size)]['metrics'] == single[size]
        assert set(single[size]) >= {'aAcc', 'mIoU', 'mAcc', 'fwIoU', 'mDice', 'mFscore'}
