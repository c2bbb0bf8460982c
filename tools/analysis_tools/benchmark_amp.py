"""Training step, inference and peak memory of a segmentor in float32 and under bfloat16 autocast (CPU).

Each variant runs in its own process (so its peak resident memory, ``ru_maxrss``, is its own):
it builds the config's model (random initialisation; speed does not depend on the weights),
makes one batch of random images and labels of the config's crop size (timing does not depend
on the content), runs ``--warmup`` untimed then ``--steps`` timed training steps through the
config's optimizer wrapper (``OptimWrapper`` for float32, ``BF16OptimWrapper`` -- what
``tools/train.py --amp`` picks without a GPU -- for bfloat16) and ``--steps`` timed
single-image predictions. The table reports medians and the bf16/fp32 ratios measured in this
one run. Where oneDNN has no bfloat16 kernels for the CPU (no AVX-512 or AMX) bfloat16 is
emulated, an order of magnitude slower than float32: the bfloat16 variant is then left out (its
cells say so) unless ``--allow-emulated`` asks for it.

Usage::

    python tools/analysis_tools/benchmark_amp.py [CONFIG ...] [--batch 2] [--steps 3] [--warmup 1]
        [--allow-emulated] [--json OUT]

Default configs: EncNet and PSPNet R50-D8 on ADE20K at 512x512 (150 classes), MMSegmentation's.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_utils import REPO, random_init_config, random_samples, write_json

DEFAULT_CONFIGS = (
    'configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    'configs/pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
)
VARIANTS = ('fp32', 'bf16')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', default=list(DEFAULT_CONFIGS), help='segmentation configs')
    parser.add_argument('--batch', type=int, default=2, help='images per training step')
    parser.add_argument('--steps', type=int, default=3, help='timed training steps and predictions')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps first')
    parser.add_argument(
        '--allow-emulated', action='store_true', help='measure bfloat16 also on a CPU that emulates it (slow)'
    )
    parser.add_argument('--json', help='also write the results to this file')
    parser.add_argument('--worker', nargs=2, metavar=('CONFIG', 'VARIANT'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch, args.steps) < 1 or args.warmup < 0:
        parser.error('--batch and --steps must be positive, --warmup non-negative')
    return args


def run_variant(config: str, variant: str, batch: int, steps: int, warmup: int) -> dict:
    """One variant in this process: median train-step and predict seconds, peak RSS in GiB."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from segtools.engine.optimizers import bf16_wrapper_cfg
    from segtools.registry import MODELS

    cfg = random_init_config(config)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        wrapper_cfg = bf16_wrapper_cfg(cfg.optim_wrapper)  # what tools/train.py --amp uses without a GPU
        if variant == 'fp32':
            wrapper_cfg['type'] = 'OptimWrapper'
        wrapper = build_optim_wrapper(model, wrapper_cfg)
    height, width = cfg.get('crop_size', (512, 512))
    num_classes = cfg.model.decode_head.num_classes
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator) for _ in range(batch)]
    data = dict(inputs=images, data_samples=random_samples(height, width, num_classes, batch, generator))
    model.train()
    train_times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        model.train_step(data, wrapper)
        if step >= warmup:
            train_times.append(time.perf_counter() - start)

    model.eval()
    one = dict(inputs=images[:1], data_samples=random_samples(height, width, num_classes, 1, generator))
    predict_times = []
    with torch.no_grad():
        for step in range(warmup + steps):
            start = time.perf_counter()
            if variant == 'bf16':
                with torch.autocast('cpu', dtype=torch.bfloat16):
                    model.test_step(one)
            else:
                model.test_step(one)
            if step >= warmup:
                predict_times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return dict(train=statistics.median(train_times), predict=statistics.median(predict_times), peak_gib=peak)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from torch.backends.cpu import get_cpu_capability

    from segtools.engine.optimizers import cpu_runs_bf16_natively

    if args.worker:
        result = run_variant(*args.worker, args.batch, args.steps, args.warmup)
        print('RESULT ' + json.dumps(result))
        return 0
    variants = VARIANTS
    if not args.allow_emulated and not cpu_runs_bf16_natively():
        variants = ('fp32',)
        print(
            f'bf16 not measured: this CPU has no bfloat16 kernels (oneDNN needs AVX-512 or AMX; it offers '
            f'{get_cpu_capability()}), so bfloat16 would be emulated and the ratio would time the emulation '
            '(--allow-emulated measures it anyway)',
            flush=True,
        )
    results = {}
    for config in args.configs:
        for variant in variants:
            cmd = [sys.executable, __file__, '--worker', config, variant]
            cmd += ['--batch', str(args.batch), '--steps', str(args.steps), '--warmup', str(args.warmup)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
            line = next((x for x in out.stdout.splitlines() if x.startswith('RESULT ')), None)
            if out.returncode != 0 or line is None:
                print(out.stdout[-2000:] + out.stderr[-4000:], file=sys.stderr)
                return 1
            results[(config, variant)] = json.loads(line[len('RESULT ') :])
            print(f'{Path(config).name} {variant}: {results[(config, variant)]}', flush=True)

    print(f'\nbatch {args.batch}, median of {args.steps} steps after {args.warmup} warm-up\n')
    print(
        '| config | train fp32 (s) | train bf16 (s) | fp32/bf16 | predict fp32 (s) | predict bf16 (s) | fp32/bf16 '
        '| peak fp32 (GiB) | peak bf16 (GiB) |'
    )
    print('|---|---|---|---|---|---|---|---|---|')
    rows = []
    for config in args.configs:
        fp32, bf16 = results[(config, 'fp32')], results.get((config, 'bf16'))
        row = dict(
            config=config,
            fp32=fp32,
            bf16=bf16,
            train_speedup=None if bf16 is None else fp32['train'] / bf16['train'],
            predict_speedup=None if bf16 is None else fp32['predict'] / bf16['predict'],
        )
        rows.append(row)
        if bf16 is None:
            cells = [f'{fp32["train"]:.2f}', 'emulated', '-', f'{fp32["predict"]:.2f}', 'emulated', '-']
            cells += [f'{fp32["peak_gib"]:.2f}', 'emulated']
        else:
            cells = [f'{fp32["train"]:.2f}', f'{bf16["train"]:.2f}', f'{row["train_speedup"]:.2f}x']
            cells += [f'{fp32["predict"]:.2f}', f'{bf16["predict"]:.2f}', f'{row["predict_speedup"]:.2f}x']
            cells += [f'{fp32["peak_gib"]:.2f}', f'{bf16["peak_gib"]:.2f}']
        print(f'| {Path(config).stem} | ' + ' | '.join(cells) + ' |')
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
