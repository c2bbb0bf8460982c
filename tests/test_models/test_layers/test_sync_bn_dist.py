"""SyncBatchNorm across 2 CPU processes (gloo) vs torch BatchNorm2d on the whole batch.

Rank 0 holds 3 samples and rank 1 holds 5: the statistics must be weighted by the
per-rank counts to match the 8-sample batch norm (PyTorch-Encoding's
DistSyncBatchNorm averaged the per-rank means and would fail here). A third case
gives rank 0 no samples at all. The statistics go over SyncBN's own gloo group.
"""

import datetime
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.ops import _ext
from segtools.ops import sync_bn as sync_bn_ops

from ...tool_process import free_port, start_method

C = 4
ITERATIONS = 2
# (activation, inplace, samples per rank); all cases run in one spawn to keep the test short.
CASES = {
    'bn': ('identity', False, (3, 5)),
    'abn': ('leaky_relu', True, (3, 5)),
    'relu_empty_rank': ('relu', False, (0, 8)),
}


def _use_kernels(ext_spec: tuple[str, str] | None) -> None:
    """Makes this process use the kernels of the parent (or none, for the fallback)."""
    if ext_spec is None:
        _ext._ext = _ext._MISSING
        _ext._warned.add('missing')
    elif ext_spec[0] != 'segtools._ext':  # a development build the parent injected
        spec = importlib.util.spec_from_file_location(*ext_spec)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _ext._ext = module


def _worker(rank: int, world_size: int, port: int, ext_spec: tuple[str, str] | None, out_dir: str) -> None:
    _use_kernels(ext_spec)
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        data = torch.load(Path(out_dir) / 'data.pt')
        results = {}
        for name, (activation, inplace, counts) in CASES.items():
            start, stop = sum(counts[:rank]), sum(counts[: rank + 1])
            layer = SyncBatchNorm(C, activation=activation, inplace=inplace).double()
            layer.load_state_dict(data['state'])
            outputs, grads = [], []
            for it in range(ITERATIONS):
                x = data['x'][it][start:stop].clone().requires_grad_()
                y = layer(x * 1)  # a non-leaf input: in-place ABN writes into it
                outputs.append(y.detach().clone())
                (y * data['loss_weights'][it][start:stop]).sum().backward()
                grads.append(x.grad)
            results[name] = dict(
                y=outputs,
                grad_x=grads,
                grad_w=layer.weight.grad,
                grad_b=layer.bias.grad,
                running_mean=layer.running_mean,
                running_var=layer.running_var,
            )
        world, group = sync_bn_ops._STATISTICS_GROUP
        results['statistics_group'] = dict(
            made_for_world=world is dist.group.WORLD,
            own=group is not None and group is not world,
            size=dist.get_world_size(group),
        )
        torch.save(results, Path(out_dir) / f'rank{rank}.pt')
    finally:
        dist.destroy_process_group()


def _full_batch(data: dict, activation: str) -> dict:
    bn = torch.nn.BatchNorm2d(C).double()
    bn.load_state_dict(data['state'])
    outputs, grads = [], []
    for it in range(ITERATIONS):
        x = data['x'][it].clone().requires_grad_()
        y = bn(x)
        y = {'identity': y, 'relu': F.relu(y), 'leaky_relu': F.leaky_relu(y, 0.01)}[activation]
        outputs.append(y.detach())
        (y * data['loss_weights'][it]).sum().backward()
        grads.append(x.grad)
    return dict(
        y=outputs,
        grad_x=grads,
        grad_w=bn.weight.grad,
        grad_b=bn.bias.grad,
        running_mean=bn.running_mean,
        running_var=bn.running_var,
    )


@pytest.mark.dist
@pytest.mark.parametrize('kernels', ['extension', 'fallback'])
def test_two_ranks_match_full_batch(tmp_path, kernels):
    if kernels == 'extension':
        module = _ext._load()
        if module is None:
            pytest.fail(f'segtools._ext is not built; run `{_ext.BUILD_COMMAND}`')
        ext_spec = (module.__name__, module.__file__)
    else:
        ext_spec = None
    gen = torch.Generator().manual_seed(0)
    state = torch.nn.BatchNorm2d(C).double().state_dict()
    state['weight'] = torch.rand(C, generator=gen, dtype=torch.float64) + 0.5
    state['bias'] = torch.randn(C, generator=gen, dtype=torch.float64)
    data = dict(
        state=state,
        x=[torch.randn(8, C, 5, 6, generator=gen, dtype=torch.float64) * 2 + it for it in range(ITERATIONS)],
        loss_weights=[torch.randn(8, C, 5, 6, generator=gen, dtype=torch.float64) for _ in range(ITERATIONS)],
    )
    torch.save(data, tmp_path / 'data.pt')

    mp.start_processes(_worker, args=(2, free_port(), ext_spec, str(tmp_path)), nprocs=2, start_method=start_method())

    ranks = [torch.load(tmp_path / f'rank{rank}.pt') for rank in range(2)]
    # The statistics travel on a gloo group of SyncBN's own, not behind DDP's buckets on the world group.
    for r in ranks:
        assert r['statistics_group'] == dict(made_for_world=True, own=True, size=2)
    for name, (activation, _, _) in CASES.items():
        expected = _full_batch(data, activation)
        for it in range(ITERATIONS):
            for key in ('y', 'grad_x'):
                got = torch.cat([r[name][key][it] for r in ranks])
                torch.testing.assert_close(got, expected[key][it], msg=lambda m, k=key, n=name: f'{n} {k}: {m}')
        for key in ('grad_w', 'grad_b'):
            # DDP averages parameter gradients; each rank returns its local share.
            got = sum(r[name][key] for r in ranks)
            torch.testing.assert_close(got, expected[key], msg=lambda m, k=key, n=name: f'{n} {k}: {m}')
        for key in ('running_mean', 'running_var'):
            for r in ranks:
                torch.testing.assert_close(r[name][key], expected[key], msg=lambda m, k=key, n=name: f'{n} {k}: {m}')
