"""BF16OptimWrapper: bfloat16 convolutions and norms, float32 Encoding and SyncBN statistics, float32 weights."""

import logging

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from segtools.engine import BF16OptimWrapper
from segtools.engine.optimizers import bf16_optim_wrapper
from segtools.models.layers.encoding import Encoding
from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.utils import register_all_modules


class _Tiny(nn.Module):
    """conv -> SyncBN -> Encoding: records the dtype each stage produced."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = SyncBatchNorm(8)
        self.encoding = Encoding(8, 4)
        self.fc = nn.Linear(32, 2)
        self.dtypes: dict[str, torch.dtype] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        self.dtypes['conv'] = x.dtype
        x = self.norm(x)
        self.dtypes['norm'] = x.dtype
        codes = self.encoding(x)
        self.dtypes['encoding'] = codes.dtype
        return self.fc(codes.flatten(1))


def _wrapper(model: nn.Module) -> BF16OptimWrapper:
    register_all_modules()
    cfg = dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    wrapper = build_optim_wrapper(model, cfg)
    assert isinstance(wrapper, BF16OptimWrapper)
    return wrapper


def test_forward_is_bfloat16_where_autocast_says_and_float32_for_the_statistics():
    torch.manual_seed(0)
    model = _Tiny()
    wrapper = _wrapper(model)
    x = torch.randn(4, 3, 12, 12)
    with wrapper.optim_context(model):
        logits = model(x)
    # SyncBN (one process) normalises in bfloat16 with float32 statistics; Encoding computes in float32.
    assert model.dtypes['conv'] == torch.bfloat16 and model.dtypes['norm'] == torch.bfloat16
    assert model.dtypes['encoding'] == torch.float32
    assert model.norm.running_mean.dtype == torch.float32 and model.norm.running_var.dtype == torch.float32
    loss = nn.functional.cross_entropy(logits.float(), torch.tensor([0, 1, 0, 1]))
    wrapper.update_params(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
    # Outside the context nothing is autocast.
    model(x)
    assert model.dtypes['conv'] == torch.float32


def test_training_follows_float32_closely():
    """The same steps in float32 and under bfloat16 autocast: losses within bfloat16's precision."""
    losses = {}
    for name in ('fp32', 'bf16'):
        torch.manual_seed(0)
        model = _Tiny()
        register_all_modules()
        optimizer = dict(type='SGD', lr=0.01)
        kind = 'OptimWrapper' if name == 'fp32' else 'BF16OptimWrapper'
        wrapper = build_optim_wrapper(model, dict(type=kind, optimizer=optimizer))
        x = torch.randn(8, 3, 12, 12, generator=torch.Generator().manual_seed(1))
        y = torch.arange(8) % 2
        losses[name] = []
        for _ in range(5):
            with wrapper.optim_context(model):
                loss = nn.functional.cross_entropy(model(x).float(), y)
            wrapper.update_params(loss)
            losses[name].append(loss.item())
    assert losses['fp32'][-1] < losses['fp32'][0] and losses['bf16'][-1] < losses['bf16'][0]
    assert losses['bf16'] == pytest.approx(losses['fp32'], rel=0.03)
    assert losses['bf16'] != losses['fp32']  # it did run in lower precision


def test_device_type_is_checked():
    with pytest.raises(ValueError, match='device_type'):
        BF16OptimWrapper(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), device_type='tpu')


@pytest.mark.parametrize('native', [True, False])
def test_warns_where_the_cpu_emulates_bfloat16(monkeypatch, native):
    logged = []
    monkeypatch.setattr(bf16_optim_wrapper, 'cpu_runs_bf16_natively', lambda: native)
    monkeypatch.setattr(bf16_optim_wrapper, 'print_log', lambda msg, *args, **kwargs: logged.append((msg, kwargs)))
    parameters = nn.Linear(2, 2).parameters()
    BF16OptimWrapper(torch.optim.SGD(parameters, lr=0.1))
    if native:
        assert logged == []
    else:
        [(message, kwargs)] = logged
        assert message.startswith('BF16OptimWrapper: this CPU has no bfloat16 kernels') and 'float32' in message
        assert kwargs['level'] == logging.WARNING
    logged.clear()
    BF16OptimWrapper(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), device_type='cuda')
    assert logged == []  # the GPU's bfloat16 is not this CPU's business
