"""Evaluate a checkpoint on a config's test set: a thin wrapper over mmengine's ``Runner.test``.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--show-dir DIR]
        [--tta] [--allow-partial-load] [--cfg-options k=v +new_key=v ...] [--launcher none|pytorch|slurm|mpi]
        [--debug]

The evaluator (``IoUMetric``) logs the per-class IoU/Acc table and aAcc, mIoU and mAcc; the
test loop shows a progress bar (one log line per ``default_hooks.logger.interval`` batches).
The checkpoint is loaded weights-only (see :mod:`segtools.weights.loading`).
``tools/dist_test.sh CONFIG CHECKPOINT GPUS`` runs it under ``torchrun``.
"""

import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from segtools.engine.optimizers import warn_if_bf16_is_emulated
from segtools.errors import CheckpointNotFoundError, ConfigError
from segtools.registry import RUNNERS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.launch import prepare_cpu_distributed, shutdown_distributed
from segtools.utils.run_hooks import register_run_hooks
from segtools.weights import get_entry, setup_safe_checkpointing

STORE_PREFIX = 'segtools://'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint (segmentation mIoU, recognition top-k)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', help='checkpoint file, a model-store name (segtools://resnest50_imagenet) or a URL'
    )
    parser.add_argument('--work-dir', help='the dir for logs and metrics (default: work_dirs/<config name>)')
    parser.add_argument(
        '--out', help='directory for the prediction label PNGs and metrics.json (sets test_evaluator.output_dir)'
    )
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='evaluate even if the checkpoint does not fit the model (missing, unexpected or mis-shaped weights '
        'stay as initialised); without it a mismatch stops the run before any metric',
    )
    parser.add_argument('--show', action='store_true', help='show the prediction overlays in a window')
    parser.add_argument('--show-dir', help='directory where the prediction overlays are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each overlay is shown with --show')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (cfg.tta_model, cfg.tta_pipeline)')
    parser.add_argument(
        '--amp', action='store_true', help='autocast inference: float16 on CUDA, bfloat16 on the CPU (test_cfg.fp16)'
    )
    add_cfg_options_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turns on the visualization hook for ``--show``/``--show-dir`` (mmseg semantics)."""
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('visualization', None) or dict(type='SegVisualizationHook')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['out_dir'] = args.show_dir  # the overlays themselves go straight into --show-dir
    hooks['visualization'] = hook  # (a config copies the dict: set every key before this)
    visualizer = cfg.setdefault(
        'visualizer', dict(type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    )
    # The hook draws with add_datasample, which mmengine's plain Visualizer lacks.
    if visualizer.get('type') == 'Visualizer':
        visualizer['type'] = 'SegLocalVisualizer'
    if args.show_dir:
        visualizer['save_dir'] = args.show_dir


def check_checkpoint(checkpoint: str) -> None:
    """Raises :class:`CheckpointNotFoundError` unless ``checkpoint`` is a file, a known store name or a URL.

    ``segtools://NAME`` must name a model-store entry (checked before the model is built; the
    download and its hash check happen when the runner loads it); other ``scheme://`` sources
    (``https://``, ``open-mmlab://``, ``torchvision://``) are mmengine's loaders' business.
    """
    if checkpoint.startswith(STORE_PREFIX):
        try:
            get_entry(checkpoint[len(STORE_PREFIX) :])
        except KeyError as err:
            raise CheckpointNotFoundError(f'checkpoint {checkpoint!r}: {err.args[0]}') from None
    elif '://' not in checkpoint and not osp.isfile(checkpoint):
        raise CheckpointNotFoundError(f'checkpoint {checkpoint!r} does not exist')


def apply_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to a loaded config (mmseg's ``tools/test.py`` semantics)."""
    check_checkpoint(args.checkpoint)
    cfg.launcher = args.launcher
    # Checked against the config (a misspelt key is an error); '+key=v' adds a new key.
    args.cfg_options = apply_cfg_options(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.allow_partial_load:
        cfg.allow_partial_load = True
    if args.amp:
        # mmengine's TestLoop autocasts with fp16=True: float16 on CUDA, bfloat16 on the CPU.
        cfg.test_cfg = dict(cfg.get('test_cfg', None) or dict(type='TestLoop'), fp16=True)
        if not torch.cuda.is_available():
            warn_if_bf16_is_emulated('tools/test.py --amp')

    if args.show or args.show_dir:
        enable_visualization(cfg, args)

    if args.tta:
        missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key, None) is None]
        if missing:
            raise ConfigError(f'--tta needs {missing} in the config {args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        for evaluator in evaluators:
            evaluator['output_dir'] = args.out
            if evaluator.get('type') == 'IoUMetric':
                # The label PNGs (tools/analysis_tools/confusion_matrix.py reads them) and the metrics.
                evaluator['save_predictions'] = True
    return cfg


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    setup_safe_checkpointing()
    cfg = apply_args(load_config(args.config), args)
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    register_run_hooks(runner, allow_partial_load=bool(cfg.get('allow_partial_load', False)))
    try:
        metrics = runner.test()
    except BaseException:
        shutdown_distributed(synchronize=False)
        raise
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    run_tool(main)
