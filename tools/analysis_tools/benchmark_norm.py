"""Training step of a real model with segtools' SyncBN against the same model with ``nn.BatchNorm2d``.

For each config the model is built twice from one seed, with ``norm_cfg=dict(type='BN')`` and
with ``dict(type='SyncBN')`` (segtools' fused kernels; residual blocks fuse norm + ReLU), and
forward + backward of the full training loss (decode and auxiliary heads) on one batch of
random images and labels at the config's crop size is timed, the two variants interleaved
(median of ``--steps`` after one untimed step each):

- one process: ``--batch`` images, all threads;
- ``--procs`` gloo processes (one thread each) under ``DistributedDataParallel``, ``--batch``
  images per process: SyncBN combines the statistics of all processes (one all-gather in the
  forward and one all-reduce in the backward per layer), BN uses each process's own.

The table gives the medians and SyncBN/BN (<= 1: SyncBN as fast or faster), measured in this
one run.

Usage::

    python tools/analysis_tools/benchmark_norm.py [CONFIG ...] [--batch 2] [--steps 4] [--procs 2] [--json OUT]
"""

import argparse
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

from bench_utils import random_init_config, random_samples, write_json

DEFAULT_CONFIGS = (
    'configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    'configs/pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
)
NORMS = ('BN', 'SyncBN')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', default=list(DEFAULT_CONFIGS), help='segmentation configs')
    parser.add_argument('--batch', type=int, default=2, help='images per step (per process with --procs)')
    parser.add_argument('--steps', type=int, default=4, help='timed steps of each variant')
    parser.add_argument('--procs', type=int, default=2, help='gloo processes of the distributed run; 0 skips it')
    parser.add_argument('--size', type=int, help='square input size (default: the config crop size)')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    if min(args.batch, args.steps) < 1 or args.procs < 0 or args.procs == 1:
        parser.error('--batch and --steps must be positive, --procs 0 or at least 2')
    return args


def build_models(config: str, size: int | None):
    """``{norm: model}`` built from one seed, and a batch builder for the model's input size."""
    import torch
    from mmengine.registry import DefaultScope

    from segtools.registry import MODELS

    cfg = random_init_config(config)
    models = {}
    for norm in NORMS:
        model_cfg = cfg.model.copy()
        for part in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
            if isinstance(model_cfg.get(part), dict) and 'norm_cfg' in model_cfg[part]:
                model_cfg[part] = dict(model_cfg[part], norm_cfg=dict(type=norm, requires_grad=True))
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope('segtools'):
            models[norm] = MODELS.build(model_cfg).train()
    models['SyncBN'].load_state_dict(models['BN'].state_dict())
    height, width = (size, size) if size else cfg.get('crop_size', (512, 512))
    num_classes = cfg.model.decode_head.num_classes

    def batch(n: int, seed: int) -> tuple:
        generator = torch.Generator().manual_seed(seed)
        samples = random_samples(height, width, num_classes, n, generator)
        return torch.randn(n, 3, height, width, generator=generator), samples

    return models, batch


def time_steps(models: dict, inputs, samples, steps: int, barrier=None) -> dict[str, float]:
    """Median seconds of forward + backward of the summed losses, the variants interleaved."""
    times = {norm: [] for norm in models}
    for step in range(steps + 1):
        order = NORMS if step % 2 == 0 else NORMS[::-1]
        for norm in order:
            model = models[norm]
            if barrier is not None:
                barrier()
            start = time.perf_counter()
            losses = model(inputs, samples, mode='loss')
            sum(value for key, value in losses.items() if 'loss' in key).backward()
            if barrier is not None:
                barrier()
            if step > 0:
                times[norm].append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
    return {norm: statistics.median(values) for norm, values in times.items()}


def distributed_worker(rank: int, world: int, port: int, config: str, args: argparse.Namespace, out: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    try:
        models, batch = build_models(config, args.size)
        wrapped = {norm: DistributedDataParallel(model) for norm, model in models.items()}
        inputs, samples = batch(args.batch, seed=rank)
        result = time_steps(wrapped, inputs, samples, args.steps, dist.barrier)
        if rank == 0:
            Path(out).write_text(json.dumps(result))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import tempfile

    import torch
    import torch.multiprocessing as mp

    rows = []
    for config in args.configs:
        models, batch = build_models(config, args.size)
        single = time_steps(models, *batch(args.batch, seed=0), args.steps)
        del models
        row = dict(config=config, single=single, single_ratio=single['SyncBN'] / single['BN'])
        print(f'{Path(config).stem} one process: {single}', flush=True)
        if args.procs:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, 'dist.json')
                mp.spawn(distributed_worker, (args.procs, free_port(), config, args, out), nprocs=args.procs)
                distributed = json.loads(Path(out).read_text())
            row.update(distributed=distributed, distributed_ratio=distributed['SyncBN'] / distributed['BN'])
            print(f'{Path(config).stem} {args.procs} gloo processes: {distributed}', flush=True)
        rows.append(row)

    print(
        f'\nforward + backward of the training loss, batch {args.batch} (per process), median of {args.steps}, '
        f'{torch.get_num_threads()} threads in one process, 1 per gloo process\n'
    )
    print('| config | BN (s) | SyncBN (s) | SyncBN/BN | BN, gloo (s) | SyncBN, gloo (s) | SyncBN/BN, gloo |')
    print('|---|---|---|---|---|---|---|')
    for row in rows:
        dist_cells = '| - | - | - |'
        if 'distributed' in row:
            d = row['distributed']
            dist_cells = f'| {d["BN"]:.2f} | {d["SyncBN"]:.2f} | {row["distributed_ratio"]:.3f} |'
        s = row['single']
        print(
            f'| {Path(row["config"]).stem} | {s["BN"]:.2f} | {s["SyncBN"]:.2f} | {row["single_ratio"]:.3f} {dist_cells}'
        )
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
