"""Train a segmentor from a config: a thin wrapper over mmengine's ``Runner``.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp] [--allow-partial-load]
        [--cfg-options k=v +new_key=v ...] [--launcher none|pytorch|slurm|mpi] [--seed N] [--deterministic]
        [--debug]

``tools/dist_train.sh CONFIG GPUS`` runs it under ``torchrun`` with ``--launcher pytorch``.
Checkpoints are loaded with ``torch.load(weights_only=True)`` and an explicit allow-list and
written atomically (see :mod:`segtools.weights.loading`, :mod:`segtools.weights.saving`); they must fit
the model unless ``--allow-partial-load``. With ``--seed N --deterministic`` the same command repeats exactly, and
``--resume auto`` after a kill continues the same run (see README, "Reproducibility").
"""

import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from segtools.engine.optimizers import bf16_wrapper_cfg
from segtools.errors import CheckpointNotFoundError, ConfigError
from segtools.registry import RUNNERS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.launch import prepare_cpu_distributed, shutdown_distributed
from segtools.utils.resume import find_resumable_checkpoint, remove_stale_temporary_files
from segtools.utils.run_hooks import register_run_hooks
from segtools.weights import ATOMIC_BACKEND, setup_safe_checkpointing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        metavar='auto|PATH',
        help='resume from PATH, or with "auto" (or no value) from the newest complete checkpoint in the work dir',
    )
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='load only the matching weights of a load_from/resume checkpoint that does not fit the model '
        '(fine-tuning from another dataset); without it a mismatch stops the run',
    )
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (AmpOptimWrapper)')
    add_cfg_options_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--seed', type=int, default=None, help="random seed (default: the config's or a random one)")
    parser.add_argument(
        '--deterministic', action='store_true', help='deterministic algorithms (torch.use_deterministic_algorithms)'
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK itself.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def launched_world_size(launcher: str) -> int:
    """The number of training processes the launcher starts (1 without a launcher).

    Read from the launcher's environment before the process group exists: ``WORLD_SIZE``
    (torchrun), ``SLURM_NTASKS`` (srun) or ``OMPI_COMM_WORLD_SIZE`` (mpirun).
    """
    variable = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS', 'mpi': 'OMPI_COMM_WORLD_SIZE'}.get(launcher)
    if variable is None:
        return 1
    value = os.environ.get(variable)
    if value is None or not value.isdigit() or int(value) < 1:
        raise ConfigError(f'--launcher {launcher}: environment variable {variable}={value!r} is not a process count')
    return int(value)


def apply_total_batch_size(cfg: Config, world_size: int) -> None:
    """Sets the per-process batch from ``cfg.total_batch_size`` (when the config states one).

    PyTorch-Encoding's recipes fix the batch over all GPUs (16: "very important"), whereas
    ``train_dataloader.batch_size`` is per process; ``total_batch_size = 16`` keeps the recipe
    whether it runs on 4 GPUs (4 each) or 8 (2 each).

    Raises:
        segtools.errors.ConfigError: The total is not a positive multiple of ``world_size``.
    """
    total = cfg.get('total_batch_size', None)
    if total is None:
        return
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        raise ConfigError(f'total_batch_size must be a positive integer, got {total!r}')
    if total % world_size:
        raise ConfigError(
            f'total_batch_size={total} cannot be split evenly over {world_size} processes; '
            f'use a process count that divides it or override it with --cfg-options total_batch_size=N'
        )
    cfg.train_dataloader.batch_size = total // world_size
    print_log(
        f'total_batch_size {total} over {world_size} process(es): train_dataloader.batch_size={total // world_size}',
        logger='current',
    )


def apply_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to a loaded config (mmseg's ``tools/train.py`` semantics)."""
    cfg.launcher = args.launcher
    # Checked against the config (a misspelt key is an error); '+key=v' adds a new key.
    args.cfg_options = apply_cfg_options(cfg, args.cfg_options)

    # work_dir priority: CLI > config > work_dirs/<config name>.
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    # An explicit --cfg-options train_dataloader.batch_size=N wins over the config's total.
    if 'train_dataloader.batch_size' not in (args.cfg_options or {}):
        apply_total_batch_size(cfg, launched_world_size(args.launcher))

    if args.amp:
        apply_amp(cfg)

    if args.allow_partial_load:
        cfg.allow_partial_load = True

    if args.resume is not None:
        cfg.resume = True
        if args.resume == 'auto':
            # mmengine's own lookup trusts the ``last_checkpoint`` pointer blindly; this one skips
            # a pointer to a missing or truncated file and falls back to the newest complete one,
            # moves unreadable checkpoints aside and refuses to start over when all are unreadable.
            found = find_resumable_checkpoint(cfg.work_dir)
            if found is not None:
                cfg.load_from = found
            elif cfg.get('load_from', None) is None:
                print_log(f'--resume auto: no checkpoint in {cfg.work_dir}; training from scratch', logger='current')
                cfg.resume = False
            # else: as in mmseg, resume from the config's load_from.
        else:
            if not osp.isfile(args.resume):
                raise CheckpointNotFoundError(f'--resume: checkpoint {args.resume!r} does not exist')
            cfg.load_from = args.resume

    if args.seed is not None or args.deterministic:
        randomness = dict(cfg.get('randomness', None) or {})
        if args.seed is not None:
            randomness['seed'] = args.seed
        if args.deterministic:
            randomness['deterministic'] = True
        cfg.randomness = randomness

    # Checkpoints go to a temporary file renamed into place, so a killed write never
    # leaves a truncated ``iter_N.pth`` behind ``last_checkpoint``.
    # Only for local folders; a remote out_dir keeps its own backend.
    checkpoint_hook = cfg.get('default_hooks', {}).get('checkpoint', None)
    if (
        checkpoint_hook is not None
        and checkpoint_hook.get('backend_args', None) is None
        and '://' not in str(checkpoint_hook.get('out_dir', None) or '')
    ):
        checkpoint_hook['backend_args'] = dict(backend=ATOMIC_BACKEND)
    return cfg


AMP_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper', 'BF16OptimWrapper')


def apply_amp(cfg: Config) -> None:
    """``--amp``: float16 + dynamic loss scaling on CUDA (mmengine's ``AmpOptimWrapper``), bfloat16
    autocast without a GPU (:class:`segtools.engine.BF16OptimWrapper`). Validation stays float32, so its
    numbers are what ``tools/test.py`` (without ``--amp``) reports for the checkpoint."""
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in AMP_WRAPPERS:
        raise ConfigError(f'--amp needs optim_wrapper.type in {AMP_WRAPPERS}, got {wrapper!r}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper = bf16_wrapper_cfg(cfg.optim_wrapper)
        print_log('--amp without CUDA: bfloat16 autocast on the CPU (BF16OptimWrapper), no loss scaling', 'current')


def main(argv: list[str] | None = None) -> Runner:
    args = parse_args(argv)
    register_all_modules()
    setup_safe_checkpointing()
    cfg = apply_args(load_config(args.config), args)
    # gloo instead of nccl without CUDA; under --launcher pytorch also creates the process group.
    # A killed run may have left the temporary file of a checkpoint write behind.
    remove_stale_temporary_files(cfg.work_dir)
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    # Before train(): plain checkpoints, random states, strict loading, class counts.
    register_run_hooks(runner, allow_partial_load=bool(cfg.get('allow_partial_load', False)))
    try:
        runner.train()
    except BaseException:
        shutdown_distributed(synchronize=False)
        raise
    shutdown_distributed()
    return runner


if __name__ == '__main__':
    run_tool(main)
