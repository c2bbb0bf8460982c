"""Multi-scale + flip + sliding-window evaluation: batched views against the view-by-view loop.

``tools/test.py --tta`` swaps in the config's ``tta_pipeline`` (6 scales x flip) and wraps the
model in ``SegTTAModel``. This benchmark feeds the same views of real images (the config's test
set; by default the bundled brain-MRI slices) to

- ``loop``: MMSegmentation's order of work -- mmengine's ``BaseTTAModel.test_step`` runs each
  view through the segmentor on its own, and slide inference runs one window at a time;
- ``batched wb=N``: ``SegTTAModel.test_step`` hands all views to the segmentor at once, whose
  windows (of every view and flip) go through the network N at a time.

The variants are timed interleaved in one process (median of ``--repeats``), after ``--warmup``
untimed passes each (1; with 0 the first timed pass also gives the predictions compared); the
table gives each variant's time, the loop/variant ratio and how far its fused predictions are
from the loop's (max abs difference of the fused logits, share of equal labels).

Usage::

    python tools/analysis_tools/benchmark_tta.py [CONFIG] [--checkpoint CKPT] [--images 1]
        [--crop 160] [--stride 106] [--window-batch auto 1 8 24] [--repeats 3] [--warmup 1] [--json OUT]

Without ``--checkpoint`` the model is randomly initialised (speed does not depend on the
weights). ``--crop`` switches the config's test mode to slide with that window.
"""

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

from bench_utils import REPO, random_init_config, write_json

DEFAULT_CONFIG = 'configs/demo/fcn_r18-d8_brain-atlas.py'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG, help='config with a tta_pipeline')
    parser.add_argument('--checkpoint', help='weights to load (default: random initialisation)')
    parser.add_argument('--images', type=int, default=1, help='images of the test set, in one batch (mmseg: 1)')
    parser.add_argument('--crop', type=int, nargs='+', help='slide window (h [w]); default: the config test_cfg')
    parser.add_argument('--stride', type=int, nargs='+', help='slide stride (h [w]); default 2/3 of the crop')
    parser.add_argument(
        '--window-batch',
        type=lambda v: v if v == 'auto' else int(v),
        nargs='+',
        default=['auto', 1, 8, 24],
        help="windows per forward of the batched variants ('auto': the segmentor's default)",
    )
    parser.add_argument('--repeats', type=int, default=3, help='timed passes of each variant')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes of each variant before them')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    if min(args.images, args.repeats, *(w for w in args.window_batch if w != 'auto')) < 1:
        parser.error('--images, --repeats and --window-batch must be positive')
    if args.warmup < 0:
        parser.error('--warmup must be 0 or more')
    return args


def load(args: argparse.Namespace):
    """The TTA-wrapped model and one collated batch of the config's TTA views."""
    import logging

    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope

    from segtools.models.segmentors import SegTTAModel
    from segtools.registry import DATASETS, MODELS

    cfg = random_init_config(args.config)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)  # no per-parameter init log
    if cfg.get('tta_pipeline') is None:
        raise SystemExit(f'{args.config} has no tta_pipeline')
    if args.crop:
        crop = tuple(args.crop) * (3 - len(args.crop))
        cfg.model.test_cfg = dict(mode='slide', crop_size=crop)
        if args.stride:
            cfg.model.test_cfg['stride'] = tuple(args.stride) * (3 - len(args.stride))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        if args.checkpoint:
            from mmengine.runner import load_checkpoint

            from segtools.weights import setup_safe_checkpointing

            setup_safe_checkpointing()  # weights-only loading, as every segtools tool
            load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
        dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
        dataset_cfg.pipeline = cfg.tta_pipeline
        if not Path(dataset_cfg.get('data_root', '')).is_absolute():
            dataset_cfg.data_root = str(REPO / dataset_cfg.get('data_root', ''))
        dataset = DATASETS.build(dataset_cfg)
    batch = pseudo_collate([dataset[i] for i in range(min(args.images, len(dataset)))])
    return SegTTAModel(model.eval()), batch


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from mmengine.model import BaseTTAModel

    tta, batch = load(args)
    model = tta.module
    variants = {'loop': (1, lambda data: BaseTTAModel.test_step(tta, data))}
    for window_batch in args.window_batch:
        variants[f'batched wb={window_batch}'] = (window_batch, tta.test_step)
    times = {name: [] for name in variants}
    outputs = {}
    windows = []
    model.backbone.register_forward_hook(lambda module, inputs, output: windows.append(inputs[0].shape[0]))
    with torch.no_grad():
        for repeat in range(args.warmup + args.repeats):  # the first args.warmup passes are untimed
            for name, (window_batch, step) in variants.items():
                model.test_cfg['window_batch'] = window_batch
                data = copy.deepcopy(batch)
                windows.clear()
                start = time.perf_counter()
                result = step(data)
                elapsed = time.perf_counter() - start
                if repeat == 0:
                    outputs[name] = (result, len(windows), sum(windows))
                if repeat >= args.warmup:
                    times[name].append(elapsed)

    num_views = len(batch['inputs'])
    test_cfg = {k: v for k, v in model.test_cfg.items() if k != 'window_batch'}
    print(
        f'{Path(args.config).name}: {len(batch["inputs"][0])} images x {num_views} views, test_cfg={test_cfg}, '
        f'median of {args.repeats}, {torch.get_num_threads()} threads\n'
    )
    print('| variant | forwards | windows | time (s) | loop/variant | max abs diff of logits | equal labels |')
    print('|---|---|---|---|---|---|---|')
    reference = outputs['loop'][0]
    base = statistics.median(times['loop'])
    rows = []
    for name in variants:
        result, forwards, total = outputs[name]
        pairs = list(zip(result, reference, strict=True))
        diff = max((a.seg_logits.data - b.seg_logits.data).abs().max().item() for a, b in pairs)
        equal = sum((a.pred_sem_seg.data == b.pred_sem_seg.data).sum().item() for a, b in pairs)
        equal /= sum(b.pred_sem_seg.data.numel() for b in reference)
        seconds = statistics.median(times[name])
        rows.append(
            dict(variant=name, forwards=forwards, windows=total, seconds=seconds, speedup=base / seconds, diff=diff)
        )
        rows[-1]['equal_labels'] = equal
        ratio = f'{base / seconds:.2f}x'
        print(f'| {name} | {forwards} | {total} | {seconds:.2f} | {ratio} | {diff:.2e} | {100 * equal:.3f}% |')
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
