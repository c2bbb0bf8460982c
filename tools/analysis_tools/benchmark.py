"""Measure inference speed (images per second) of a segmentor over its config's test set.

As mmseg's ``benchmark.py``: batch size 1, ``model.eval()``, ``torch.no_grad()``; each image is
preprocessed (``model.data_preprocessor``) outside the timed region, and only
``model(inputs, data_samples, mode='predict')`` is timed (with ``torch.cuda.synchronize()``
around it on a GPU). The first ``--num-warmup`` images are not counted. When the test set
has fewer images than ``--num-iters`` the loader starts over. Without a checkpoint the model
keeps its random initialisation (the speed is the same; the output says so).

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT] [--num-iters 200] [--num-warmup 5]
        [--repeat-times 1] [--log-interval 50] [--work-dir DIR] [--device cpu|cuda] [--cfg-options k=v ...]

With ``--work-dir`` the result is also written (atomically) to ``DIR/fps_<timestamp>.json``.
The checkpoint is loaded weights-only (see :mod:`segtools.weights.loading`).
"""

import argparse
import itertools
import json
import os.path as osp
import statistics
import time
from collections.abc import Iterator

import torch
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint
from torch import nn

from segtools.errors import ConfigError
from segtools.registry import MODELS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.fileio import atomic_open
from segtools.weights import setup_safe_checkpointing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark the inference speed (FPS) of a segmentor.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint file (default: random weights)')
    parser.add_argument('--num-iters', type=int, default=200, help='images per repeat, warm-up included')
    parser.add_argument('--num-warmup', type=int, default=5, help='images at the start of each repeat left uncounted')
    parser.add_argument('--repeat-times', type=int, default=1, help='how many times to repeat the measurement')
    parser.add_argument('--log-interval', type=int, default=50, help='print the running FPS every N images')
    parser.add_argument('--work-dir', help='write the result to WORK_DIR/fps_<timestamp>.json')
    parser.add_argument('--device', default=None, help='torch device (default: cuda if available, else cpu)')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    for name in ('num_iters', 'repeat_times', 'log_interval'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be positive, got {getattr(args, name)}')
    if not 0 <= args.num_warmup < args.num_iters:
        parser.error(f'--num-warmup must be in [0, --num-iters={args.num_iters}), got {args.num_warmup}')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist')
    return args


def build_model(cfg: Config, checkpoint: str | None, device: torch.device) -> nn.Module:
    """Builds ``cfg.model`` in eval mode on ``device``, with the checkpoint's weights if one is given.

    The checkpoint goes through mmengine's ``load_checkpoint``, which
    :func:`setup_safe_checkpointing` routes to the weights-only loader (an unsafe checkpoint
    raises ``UnsafeCheckpointError``).
    """
    # Building never loads ``pretrained``/``init_cfg`` weights (only init_weights() would).
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def endless(loader) -> Iterator[dict]:
    """Batches of ``loader``, starting over at the end (a test set may be shorter than ``--num-iters``)."""
    for epoch in itertools.count():
        count = 0
        for batch in loader:
            count += 1
            yield batch
        if count == 0:
            raise ValueError(f'benchmark: the test dataloader yielded no batch (epoch {epoch}); is the test set empty?')


def measure(model: nn.Module, loader, num_iters: int, num_warmup: int, log_interval: int) -> float:
    """Images per second of ``model`` over ``num_iters - num_warmup`` timed images.

    Args:
        model: A segmentor in eval mode.
        loader: A dataloader of batch size 1.
        num_iters: Images processed, warm-up included.
        num_warmup: Leading images left out of the timing (cudnn autotuning, allocator).
        log_interval: Print the running FPS every this many images.

    Returns:
        The FPS of the timed images.
    """
    sync = torch.cuda.synchronize if next(model.parameters()).is_cuda else (lambda: None)
    timed = 0.0
    for i, data in enumerate(itertools.islice(endless(loader), num_iters)):
        with torch.no_grad():
            data = model.data_preprocessor(data, False)
            sync()
            start = time.perf_counter()
            model(data['inputs'], data['data_samples'], mode='predict')
            sync()
            elapsed = time.perf_counter() - start
        if i >= num_warmup:
            timed += elapsed
            done = i + 1 - num_warmup
            if (i + 1) % log_interval == 0:
                print(f'Done image [{i + 1:<3}/{num_iters}], fps: {done / timed:.2f} img / s', flush=True)
    return (num_iters - num_warmup) / timed


def write_json(path: str, result: dict) -> None:
    """Write ``result`` to ``path`` through a temporary file renamed into place."""
    with atomic_open(path, 'w') as f:
        json.dump(result, f, indent=2)


def main(argv: list[str] | None = None) -> dict:
    """Run the tool; returns ``dict(fps_list, average_fps, std_fps, device, checkpoint, ...)``."""
    args = parse_args(argv)
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options)
    if 'test_dataloader' not in cfg:
        raise ConfigError(f'{args.config} has no test_dataloader to benchmark on')
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = cfg.get('env_cfg', {}).get('cudnn_benchmark', False)
    register_all_modules()
    setup_safe_checkpointing()

    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.batch_size = 1  # FPS is per image, as mmseg measures it
    loader = Runner.build_dataloader(loader_cfg)
    model = build_model(cfg, args.checkpoint, device)
    weights = args.checkpoint or 'none: random initial weights (speed only)'
    print(f'Benchmark of {args.config} on {device}, weights: {weights}', flush=True)

    fps_list = []
    for repeat in range(args.repeat_times):
        fps = measure(model, loader, args.num_iters, args.num_warmup, args.log_interval)
        print(f'Repeat {repeat + 1}/{args.repeat_times}: overall fps: {fps:.2f} img / s', flush=True)
        fps_list.append(fps)
    mean = statistics.fmean(fps_list)
    std = statistics.pstdev(fps_list)
    print(f'Average fps of {args.repeat_times} repeats: {mean:.2f} img / s, std: {std:.2f}', flush=True)

    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        device=str(device),
        num_iters=args.num_iters,
        num_warmup=args.num_warmup,
        fps_list=fps_list,
        average_fps=mean,
        std_fps=std,
    )
    if args.work_dir is not None:
        path = osp.join(args.work_dir, f'fps_{time.strftime("%Y%m%d_%H%M%S")}.json')
        write_json(path, result)
        print(f'Result written to {path}')
    return result


if __name__ == '__main__':
    run_tool(main)
