"""BufferBroadcastHook: before validation every rank holds rank 0's buffers, parameters untouched."""

from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from segtools.engine.hooks import BufferBroadcastHook, broadcast_buffers
from segtools.utils.run_hooks import register_run_hooks

from ...tool_process import free_port, start_method


def _model(rank: int) -> nn.Module:
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    with torch.no_grad():
        model[0].weight.fill_(rank + 1.0)  # a parameter: must stay this rank's
    model[1].running_mean.fill_(10.0 * (rank + 1))
    model[1].running_var.fill_(rank + 2.0)
    model[1].num_batches_tracked.fill_(rank + 5)
    return model


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
    try:
        model = _model(rank)
        BufferBroadcastHook().before_val_epoch(SimpleNamespace(model=model))
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, f'{out}/rank{rank}.pt')
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_every_rank_validates_with_rank_zero_buffers(tmp_path):
    mp.start_processes(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method=start_method())
    states = [torch.load(tmp_path / f'rank{rank}.pt', weights_only=True) for rank in range(2)]
    for key in ('1.running_mean', '1.running_var', '1.num_batches_tracked'):
        assert torch.equal(states[1][key], states[0][key]), key
    assert float(states[0]['1.running_mean'][0]) == 10.0 and int(states[1]['1.num_batches_tracked']) == 5
    assert float(states[1]['0.weight'].flatten()[0]) == 2.0  # parameters are DDP's business


def test_single_process_is_a_no_op():
    model = _model(3)
    assert broadcast_buffers(model) == 0
    assert float(model[1].running_mean[0]) == 40.0


def test_every_run_gets_it():
    hooks = []
    runner = SimpleNamespace(hooks=hooks, register_hook=hooks.append)
    register_run_hooks(runner)
    assert sum(isinstance(hook, BufferBroadcastHook) for hook in hooks) == 1
