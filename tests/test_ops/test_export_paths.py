"""The ops take their plain-PyTorch references while a model is exported, and the kernels otherwise.

The compiled kernels cannot be captured into a graph (a symbolic size cannot enter them and
ONNX has no op for them), so ``torch.export`` of a model using them failed with "Cannot call
numel() on tensor with symbolic sizes". The ONNX round trip of whole models is in
tests/test_tools/test_pytorch2onnx.py.
"""

import pytest
import torch
from torch import nn

from segtools.ops import _ext
from segtools.ops._utils import is_exporting
from segtools.ops.encoding import (
    AggregateFunction,
    ScaledL2Function,
    aggregate,
    aggregate_reference,
    scaled_l2,
    scaled_l2_reference,
)
from segtools.ops.rectify import ConvRectifyFunction, conv_rectify
from segtools.ops.sync_bn import SyncBatchNormFunction, sync_batch_norm, sync_batch_norm_reference

DIMS = torch.export.Dim


class _Probe(nn.Module):
    """``2 x`` when :func:`is_exporting` says so, else ``x``: a captured graph keeps the branch taken."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if is_exporting() else x


class _EncodingOps(nn.Module):
    """``aggregate(softmax(scaled_l2(X, C, S)), X, C)``: the Encoding layer's two ops."""

    def __init__(self, channels: int = 5, codes: int = 4) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.codewords = nn.Parameter(torch.randn(codes, channels, generator=gen))
        self.scale = nn.Parameter(-torch.rand(codes, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        X = x.flatten(2).transpose(1, 2)  # (B, H*W, D), a transposed view as the layer passes it
        A = torch.softmax(scaled_l2(X, self.codewords, self.scale), dim=2)
        return aggregate(A, X, self.codewords)


class _SyncBNOp(nn.Module):
    """``sync_batch_norm`` in eval mode, with a zero weight (clamped by in-place ABN)."""

    def __init__(self, inplace: bool, channels: int = 6) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        weight = torch.rand(channels, generator=gen) + 0.5
        weight[0] = 0.0
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.randn(channels, generator=gen))
        self.register_buffer('running_mean', torch.randn(channels, generator=gen))
        self.register_buffer('running_var', torch.rand(channels, generator=gen) + 0.5)
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 1  # a non-leaf the in-place variant may write into
        activation = 'leaky_relu' if self.inplace else 'relu'
        return sync_batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            False,
            0.1,
            1e-5,
            activation,
            0.1,
            self.inplace,
        )


def _export(module: nn.Module, x: torch.Tensor) -> torch.export.ExportedProgram:
    """Non-strict ``torch.export`` (what ``torch.onnx.export(dynamo=True)`` runs) with dynamic N, H, W."""
    shapes = {'x': {0: DIMS('batch', min=1), 2: DIMS('height', min=2), 3: DIMS('width', min=2)}}
    return torch.export.export(module.eval(), (x,), dynamic_shapes=shapes, strict=False)


def _spy(monkeypatch, function: type[torch.autograd.Function]) -> list:
    """Counts calls of ``function.apply`` (the kernels' path), forwarding them."""
    calls = []
    original = function.apply

    def apply(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(function, 'apply', apply)
    return calls


def test_is_exporting_only_while_exporting():
    probe, x = _Probe(), torch.randn(2, 3)
    assert torch.equal(probe(x), x)
    captured = [
        torch.export.export(probe, (x,), strict=False).module(),
        torch.export.export(probe, (x,), strict=True).module(),
        torch.jit.trace(probe, (x,), check_trace=False),
    ]
    for graph in captured:
        torch.testing.assert_close(graph(x), 2 * x)
    assert is_exporting() is False


def test_get_ext_is_none_while_exporting_without_a_warning(require_ext, monkeypatch, recwarn):
    monkeypatch.setattr('segtools.ops._ext.is_exporting', lambda: True)
    assert _ext.get_ext('scaled_l2', torch.device('cpu')) is None
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    monkeypatch.setattr('segtools.ops._ext.is_exporting', lambda: False)
    assert _ext.get_ext('scaled_l2', torch.device('cpu')) is not None


def test_encoding_ops_export_through_the_references(require_ext, monkeypatch):
    module = _EncodingOps()
    x = torch.randn(2, 5, 6, 7)
    scaled_calls, aggregate_calls = _spy(monkeypatch, ScaledL2Function), _spy(monkeypatch, AggregateFunction)
    expected = module(x)  # the normal path: the kernels
    assert len(scaled_calls) == len(aggregate_calls) == 1
    program = _export(module, x)
    assert len(scaled_calls) == len(aggregate_calls) == 1, 'the kernels ran during export'
    for shape in [(2, 5, 6, 7), (1, 5, 9, 4), (3, 5, 3, 11)]:
        y = torch.randn(shape)
        X = y.flatten(2).transpose(1, 2)
        A = torch.softmax(scaled_l2_reference(X, module.codewords, module.scale), dim=2)
        reference = aggregate_reference(A, X, module.codewords)
        torch.testing.assert_close(program.module()(y), reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(program.module()(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('inplace', [False, True])
def test_sync_batch_norm_exports_through_the_reference(require_ext, monkeypatch, inplace):
    module = _SyncBNOp(inplace)
    x = torch.randn(2, 6, 5, 7)
    calls = _spy(monkeypatch, SyncBatchNormFunction)
    expected = module(x)  # the normal path: the kernels
    assert len(calls) == 1
    program = _export(module, x)
    assert len(calls) == 1, 'the kernels ran during export'
    targets = {str(node.target) for node in program.graph.nodes if node.op == 'call_function'}
    assert any('batch_norm' in target for target in targets), targets
    torch.testing.assert_close(program.module()(x), expected, rtol=1e-5, atol=1e-5)
    y = torch.randn(3, 6, 4, 9)
    weight = module.weight.detach().clamp(min=1e-5) if inplace else module.weight.detach()
    activation = 'leaky_relu' if inplace else 'relu'
    reference = sync_batch_norm_reference(
        y, module.running_mean, module.running_var, weight, module.bias.detach(), False, 0.1, 1e-5, activation, 0.1
    )
    torch.testing.assert_close(program.module()(y), reference, rtol=1e-5, atol=1e-5)


def test_conv_rectify_exports_through_the_reference(require_ext, monkeypatch):
    class Rectify(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return conv_rectify(x, (6, 7), 3, 1, 1, 1)

    x = torch.randn(2, 3, 6, 7)
    calls = _spy(monkeypatch, ConvRectifyFunction)
    expected = Rectify()(x)
    assert len(calls) == 1
    program = torch.export.export(Rectify(), (x,), strict=False)
    assert len(calls) == 1, 'the kernel ran during export'
    torch.testing.assert_close(program.module()(x), expected)
