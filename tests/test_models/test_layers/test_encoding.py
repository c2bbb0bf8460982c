"""Tests of the Encoding and EncodingDrop layers."""

import math

import pytest
import torch
import torch.nn.functional as F

from segtools.models.layers.encoding import Encoding, EncodingDrop
from segtools.ops import BUILD_COMMAND, has_ext
from segtools.ops.encoding import aggregate_reference, scaled_l2_reference


def encode_reference(x: torch.Tensor, codewords: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    X = x.flatten(2).transpose(1, 2)
    A = F.softmax(scaled_l2_reference(X, codewords, scale), dim=2)
    return aggregate_reference(A, X, codewords)


@pytest.mark.parametrize('shape', [(2, 6, 5, 3), (3, 6, 7)])
def test_output_shape_and_value(shape):
    torch.manual_seed(0)
    layer = Encoding(channels=6, num_codes=4)
    x = torch.randn(*shape)
    out = layer(x)
    assert out.shape == (shape[0], 4, 6)
    torch.testing.assert_close(out, encode_reference(x, layer.codewords, layer.scale))


def test_backward_reaches_input_and_parameters():
    torch.manual_seed(0)
    layer = Encoding(6, 4).double()
    x = torch.randn(2, 6, 5, 3, dtype=torch.float64, requires_grad=True)
    layer(x).pow(2).sum().backward()
    expected = torch.autograd.grad(
        encode_reference(x, layer.codewords, layer.scale).pow(2).sum(), [x, layer.codewords, layer.scale]
    )
    for actual, want in zip([x.grad, layer.codewords.grad, layer.scale.grad], expected, strict=True):
        torch.testing.assert_close(actual, want)


def test_gradcheck_through_kernels():
    if not has_ext():
        pytest.fail(f'segtools._ext is not built; run `{BUILD_COMMAND}`')
    torch.manual_seed(0)
    layer = Encoding(3, 4).double()
    x = torch.randn(2, 3, 3, 2, dtype=torch.float64, requires_grad=True)

    def fn(x, codewords, scale):
        return torch.func.functional_call(layer, {'codewords': codewords, 'scale': scale}, (x,))

    assert torch.autograd.gradcheck(
        fn, (x, layer.codewords.detach().requires_grad_(), layer.scale.detach().requires_grad_())
    )


def test_init_ranges():
    torch.manual_seed(0)
    layer = Encoding(channels=64, num_codes=32)
    bound = 1 / math.sqrt(32 * 64)
    assert layer.codewords.shape == (32, 64) and layer.scale.shape == (32,)
    assert layer.codewords.abs().max() <= bound
    assert layer.codewords.abs().max() > 0.9 * bound  # spans the range, not a narrower one
    assert (layer.scale <= 0).all() and (layer.scale >= -1).all()
    assert layer.scale.min() < -0.9 and layer.scale.max() > -0.1
    assert 'channels=64, num_codes=32' in repr(layer)


@pytest.mark.parametrize('layer_cls', [Encoding, EncodingDrop])
@pytest.mark.parametrize('shape', [(2, 5, 4, 4), (2, 6), (2, 6, 1, 4, 4)])
def test_wrong_input_shape_raises(layer_cls, shape):
    with pytest.raises(ValueError, match=rf'{layer_cls.__name__}: x must have shape \(B, 6, H, W\) or \(B, 6, N\)'):
        layer_cls(6, 4)(torch.randn(*shape))


def test_encoding_drop_resamples_scale_in_training():
    torch.manual_seed(0)
    layer = EncodingDrop(6, 4).train()
    assert not hasattr(layer, 'scale') or not isinstance(layer.scale, torch.nn.Parameter)
    x = torch.randn(2, 6, 5, 3)
    first, second = layer(x), layer(x)
    assert first.shape == (2, 4, 6)
    assert not torch.allclose(first, second)
    # Each output is an Encoding with a scale drawn from U(-1, 0): replay the generator.
    torch.manual_seed(1)
    scale = torch.empty(4).uniform_(-1.0, 0.0)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x), encode_reference(x, layer.codewords, scale))


def test_encoding_drop_uses_fixed_scale_in_eval():
    torch.manual_seed(0)
    layer = EncodingDrop(6, 4).eval()
    x = torch.randn(2, 6, 5, 3)
    out = layer(x)
    torch.testing.assert_close(out, layer(x), rtol=0, atol=0)
    torch.testing.assert_close(out, encode_reference(x, layer.codewords, torch.full((4,), -0.5)))


def test_encoding_drop_parameters_all_get_gradients():
    layer = EncodingDrop(6, 4).train()
    layer(torch.randn(2, 6, 3, 3)).sum().backward()
    assert [name for name, p in layer.named_parameters() if p.grad is None] == []
