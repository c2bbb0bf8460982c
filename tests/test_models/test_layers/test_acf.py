"""ACFModule and MixtureOfSoftMaxACF."""

import math

import pytest
import torch

from segtools.models.layers.acf import ACFModule, MixtureOfSoftMaxACF


def test_single_softmax_is_scaled_dot_product_attention():
    torch.manual_seed(0)
    attn = MixtureOfSoftMaxACF(1, 4).eval()
    qt, kt, vt = torch.randn(3, 4, 10), torch.randn(3, 4, 6), torch.randn(3, 5, 6)
    out, A = attn(qt, kt, vt)
    expected_A = torch.softmax(qt.transpose(1, 2) @ kt / math.sqrt(4), dim=2)
    torch.testing.assert_close(A, expected_A)
    torch.testing.assert_close(out, expected_A @ vt.transpose(1, 2))


def test_mixture_of_softmaxes():
    torch.manual_seed(0)
    attn = MixtureOfSoftMaxACF(2, 6).eval()
    qt, kt, vt = torch.randn(3, 6, 10), torch.randn(3, 6, 7), torch.randn(3, 5, 7)
    out, A = attn(qt, kt, vt)
    # m softmaxes over 3-channel slices (temperature sqrt(d_k)), mixed by softmax(W mean(q)).
    pi = torch.softmax(attn.weight @ qt.mean(dim=2, keepdim=True), dim=1)  # (B, 2, 1)
    parts = [
        torch.softmax(qt[:, 3 * i : 3 * i + 3].transpose(1, 2) @ kt[:, 3 * i : 3 * i + 3] / math.sqrt(6), 2)
        for i in range(2)
    ]
    expected_A = sum(pi[:, i, :, None] * parts[i] for i in range(2))
    torch.testing.assert_close(A, expected_A)
    torch.testing.assert_close(A.sum(dim=2), torch.ones(3, 10))
    assert out.shape == (3, 10, 5)


def test_mixture_needs_divisible_channels():
    with pytest.raises(ValueError, match='divisible'):
        MixtureOfSoftMaxACF(4, 6)


@pytest.mark.parametrize('kq_transform', ['conv', 'ffn', 'dffn'])
@pytest.mark.parametrize('pooling', [False, True])
@pytest.mark.parametrize('size', [(6, 6), (7, 5)])
def test_acf_shapes(kq_transform, pooling, size):
    # PyTorch-Encoding's smoke test: 4 heads, 2 mixtures, 24 channels (here on a tiny map).
    torch.manual_seed(0)
    acf = ACFModule(4, 2, 24, 12, 6, kq_transform=kq_transform, pooling=pooling)
    x = torch.randn(2, 24, *size, requires_grad=True)
    out = acf(x)
    assert out.shape == x.shape
    out.square().mean().backward()
    assert torch.isfinite(x.grad).all()


def test_acf_concat():
    acf = ACFModule(2, 1, 8, 4, 4, concat=True)
    x = torch.randn(2, 8, 5, 5)
    out = acf(x)
    assert out.shape == (2, 16, 5, 5)
    torch.testing.assert_close(out[:, 8:], x)


def test_acf_residual_with_zero_norm_is_identity():
    acf = ACFModule(2, 1, 8, 4, 4).eval()
    torch.nn.init.zeros_(acf.norm.weight)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(acf(x), x)


def test_invalid_kq_transform():
    with pytest.raises(ValueError, match='kq_transform'):
        ACFModule(2, 1, 8, 4, 4, kq_transform='mlp')
