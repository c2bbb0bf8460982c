"""CPU distributed launch helpers: gloo instead of nccl, and a clean shutdown."""

import torch
import torch.distributed as dist
from mmengine.config import Config

from segtools.utils.launch import prepare_cpu_distributed, shutdown_distributed


def test_prepare_switches_nccl_to_gloo_without_cuda():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    prepare_cpu_distributed(cfg)
    expected = 'nccl' if torch.cuda.is_available() else 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == expected


def test_shutdown_destroys_the_process_group(tmp_path):
    shutdown_distributed()  # nothing to do: no group
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    assert dist.is_initialized()
    shutdown_distributed()
    assert not dist.is_initialized()
