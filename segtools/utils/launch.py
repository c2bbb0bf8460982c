"""Distributed launch on machines without CUDA (gloo), for ``tools/train.py`` and ``tools/test.py``.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` before creating the
process group, and its ``MMDistributedDataParallel`` default passes ``device_ids=[LOCAL_RANK]``;
both fail on a CPU-only machine, and the configs' ``dist_cfg=dict(backend='nccl')`` cannot run
there either. :func:`prepare_cpu_distributed` makes ``tools/dist_train.sh CONFIG 2`` work on such
a machine without editing the config: gloo instead of nccl, the process group created here (the
``Runner`` then sees it and skips ``init_dist``), and a DDP wrapper without ``device_ids``.
On a CUDA machine it changes nothing.
"""

import datetime
import os

import torch
import torch.distributed as dist
from mmengine.config import Config

from segtools.errors import ConfigError


def prepare_cpu_distributed(cfg: Config) -> None:
    """Adapts ``cfg`` (and, under ``--launcher pytorch``, the process group) to CPU-only runs.

    Args:
        cfg: The merged config; ``cfg.launcher`` must already be set.

    Raises:
        segtools.errors.ConfigError: ``launcher`` is ``slurm`` or ``mpi`` without CUDA (only ``pytorch``,
            i.e. ``torchrun``, is supported on CPU).
    """
    if torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none':
        return
    if launcher != 'pytorch':
        raise ConfigError(f'--launcher {launcher} needs CUDA; on a CPU-only machine use --launcher pytorch (torchrun)')

    wrapper = cfg.get('model_wrapper_cfg', None) or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False),
    )
    # A CPU module takes device_ids=None; mmengine's default [LOCAL_RANK] is for GPUs.
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper

    if not dist.is_initialized():
        options = {key: value for key, value in dist_cfg.items() if key not in ('backend', 'init_backend')}
        if 'timeout' in options:
            options['timeout'] = datetime.timedelta(seconds=options['timeout'])
        # torchrun exports RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (env:// rendezvous).
        dist.init_process_group(
            backend=dist_cfg['backend'],
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **options,
        )


def shutdown_distributed(synchronize: bool = True) -> None:
    """Destroys the default process group, if any, before the interpreter exits.

    mmengine never does; leaving a gloo group to interpreter teardown lets its background
    threads be destroyed while still joinable, which aborts the process ("terminate called
    without an active exception", SIGABRT) after an otherwise successful run. A rank that
    tears its connections down while another still finishes its last collective can abort the
    other the same way, so after a successful run the ranks first meet at a barrier.

    Args:
        synchronize: Meet the other ranks first; ``False`` when this rank is failing (the
            others may never arrive: torchrun stops them instead).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if synchronize:
        dist.barrier()
    dist.destroy_process_group()
