"""The decode heads' loss: the fused upsampled cross-entropy against upsampling first.

A decode head's loss upsamples its ``(N, K, H/8, W/8)`` logits to the label size and applies
the cross-entropy; segtools computes it with the fused kernel
(:func:`segtools.ops.upsampled_cross_entropy`), which never stores the ``N x K x H x W``
upsampled logits. Two measurements, each variant interleaved with the others in one process:

- the loss path alone (upsample, cross-entropy, top-1 accuracy, forward + backward) at a
  decode head's size, three ways: fused; upsample first under activation checkpointing (what
  segtools did before, and still does for losses the kernel does not cover); upsample first,
  plainly (MMSegmentation's order of work). Also the bytes autograd keeps for the backward;
- a whole training step (forward, backward, SGD) of each config's model, fused against
  upsample-first-checkpointed, float32.

Usage::

    python tools/analysis_tools/benchmark_loss.py [CONFIG ...] [--batch 2] [--steps 3] [--json OUT]

Default config: EncNet R50-D8 on ADE20K at 512x512 (150 classes, a decode and an auxiliary head).
"""

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench_utils import random_init_config, random_samples, write_json

DEFAULT_CONFIGS = ('configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py',)
LOSS_VARIANTS = ('fused', 'checkpointed', 'plain')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', default=list(DEFAULT_CONFIGS), help='segmentation configs')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--steps', type=int, default=3, help='timed repetitions of each variant (after one warm-up)')
    parser.add_argument('--classes', type=int, default=150, help='classes of the loss-path measurement')
    parser.add_argument('--size', type=int, default=512, help='label side of the loss-path measurement')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    if min(args.batch, args.steps, args.classes, args.size) < 1:
        parser.error('--batch, --steps, --classes and --size must be positive')
    return args


@contextlib.contextmanager
def upsampling_first(enabled: bool) -> Iterator[None]:
    """Makes every decode head upsample its logits before the losses (checkpointed) while enabled."""
    from segtools.models.decode_heads.decode_head import BaseDecodeHead

    if not enabled:
        yield
        return
    original = BaseDecodeHead._fuses_upsampling
    BaseDecodeHead._fuses_upsampling = lambda self, seg_logits: False
    try:
        yield
    finally:
        BaseDecodeHead._fuses_upsampling = original


def interleaved(variants: dict[str, Callable[[], None]], steps: int) -> dict[str, float]:
    """Median seconds of each callable, run in turn ``1 + steps`` times (the first untimed)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for step in range(1 + steps):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            if step:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def loss_path(batch: int, classes: int, size: int, steps: int) -> dict:
    """Seconds and saved-for-backward MiB of the three ways to compute a decode head's loss."""
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    from segtools.constants import IGNORE_INDEX
    from segtools.models.losses.accuracy import accuracy, label_accuracy
    from segtools.ops import upsampled_cross_entropy

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, classes, size // 8, size // 8, generator=generator)
    target = torch.randint(0, classes, (batch, size, size), generator=generator)

    def upsample_first(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        upsampled = F.interpolate(x, (size, size), mode='bilinear', align_corners=False)
        return F.cross_entropy(upsampled, target, ignore_index=IGNORE_INDEX), accuracy(upsampled, target)

    def fused(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss, pred = upsampled_cross_entropy(x, target)
        return loss.mean(), label_accuracy(pred, target)

    forms = {
        'fused': fused,
        'checkpointed': lambda x: checkpoint(upsample_first, x, use_reentrant=False),
        'plain': upsample_first,
    }
    saved_mib = {}

    def step(name: str) -> Callable[[], None]:
        def run() -> None:
            x = logits.clone().requires_grad_()
            saved = []

            def pack(tensor: torch.Tensor) -> torch.Tensor:
                saved.append(tensor.numel() * tensor.element_size())
                return tensor

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                loss, _ = forms[name](x)
            loss.backward()
            saved_mib[name] = sum(saved) / 2**20

        return run

    seconds = interleaved({name: step(name) for name in LOSS_VARIANTS}, steps)
    return {name: dict(seconds=seconds[name], saved_mib=saved_mib[name]) for name in LOSS_VARIANTS}


def train_step(config: str, batch: int, steps: int) -> dict[str, float]:
    """Median seconds of a float32 training step, fused against upsample-first-checkpointed."""
    import logging

    import torch
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from segtools.registry import MODELS

    cfg = random_init_config(config)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)  # no per-parameter init log
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper, type='OptimWrapper'))
    height, width = cfg.get('crop_size', (512, 512))
    num_classes = cfg.model.decode_head.num_classes
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator) for _ in range(batch)]
    data = dict(inputs=images, data_samples=random_samples(height, width, num_classes, batch, generator))
    model.train()

    def step(first: bool) -> Callable[[], None]:
        def run() -> None:
            with upsampling_first(first):
                model.train_step(data, wrapper)

        return run

    return interleaved({'fused': step(False), 'checkpointed': step(True)}, steps)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = loss_path(args.batch, args.classes, args.size, args.steps)
    print(
        f'\nLoss path: ({args.batch}, {args.classes}, {args.size // 8}, {args.size // 8}) logits -> '
        f'{args.size}x{args.size} labels, forward + backward, median of {args.steps}\n'
    )
    print('| variant | time (s) | variant/fused | kept for backward (MiB) |')
    print('|---|---|---|---|')
    for name in LOSS_VARIANTS:
        ratio = path[name]['seconds'] / path['fused']['seconds']
        print(f'| {name} | {path[name]["seconds"]:.3f} | {ratio:.2f}x | {path[name]["saved_mib"]:.1f} |')
    results = dict(loss_path=path, train_step=[])
    print(f'\nTraining step, float32, batch {args.batch}, median of {args.steps}\n')
    print('| config | fused (s) | upsample first, checkpointed (s) | checkpointed/fused |')
    print('|---|---|---|---|')
    for config in args.configs:
        seconds = train_step(config, args.batch, args.steps)
        ratio = seconds['checkpointed'] / seconds['fused']
        results['train_step'].append(dict(config=config, **seconds, speedup=ratio))
        print(f'| {Path(config).stem} | {seconds["fused"]:.2f} | {seconds["checkpointed"]:.2f} | {ratio:.2f}x |')
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
