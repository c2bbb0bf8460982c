"""DRANet's CPAM encoder/decoder, CCAM decoder and CLGD."""

import pytest
import torch

from segtools.models.layers.dran_attention import CLGD, CCAMDec, CPAMDec, CPAMEnc


@pytest.mark.parametrize('pool_scales', [(1, 2, 3, 6), (1, 3)])
def test_cpam_enc_descriptors(pool_scales):
    torch.manual_seed(0)
    enc = CPAMEnc(6, pool_scales=pool_scales, norm_cfg=dict(type='BN')).eval()
    x = torch.randn(2, 6, 7, 7)
    y = enc(x)
    assert y.shape == (2, sum(s * s for s in pool_scales), 6)
    # The first descriptor is the global one: the ConvModule of the mean.
    torch.testing.assert_close(y[:, 0], enc.stages[0][1](x.mean(dim=(2, 3), keepdim=True)).flatten(1))


def test_decoders_start_as_identity():
    x = torch.randn(2, 8, 5, 4)
    torch.testing.assert_close(CPAMDec(8)(x, torch.randn(2, 50, 8)), x, rtol=0, atol=0)
    torch.testing.assert_close(CCAMDec()(x, torch.randn(2, 2, 5, 4)), x, rtol=0, atol=0)


def test_cpam_dec_matches_formula():
    torch.manual_seed(0)
    dec = CPAMDec(8).double()
    torch.nn.init.constant_(dec.scale, 0.5)
    x, y = torch.randn(2, 8, 5, 4, dtype=torch.float64), torch.randn(2, 50, 8, dtype=torch.float64)
    q = dec.query_conv(x).flatten(2)  # (B, 2, N)
    A = torch.softmax(torch.einsum('bcn,bkc->bnk', q, dec.key_linear(y)), dim=-1)
    expected = x + 0.5 * torch.einsum('bkc,bnk->bcn', dec.value_linear(y), A).view_as(x)
    torch.testing.assert_close(dec(x, y), expected)


def test_ccam_dec_matches_formula():
    torch.manual_seed(0)
    dec = CCAMDec().double()
    torch.nn.init.constant_(dec.scale, 0.5)
    x, y = torch.randn(2, 8, 5, 4, dtype=torch.float64), torch.randn(2, 3, 5, 4, dtype=torch.float64)
    X, Y = x.flatten(2), y.flatten(2)
    energy = torch.einsum('bcn,bkn->bck', X, Y)
    A = torch.softmax(energy.max(dim=-1, keepdim=True).values - energy, dim=-1)
    torch.testing.assert_close(dec(x, y), x + 0.5 * torch.einsum('bck,bkn->bcn', A, Y).view_as(x))


def test_clgd():
    torch.manual_seed(0)
    clgd = CLGD(4, 6, 5, inter_channels=3, norm_cfg=dict(type='BN'))
    assert clgd.gamma.item() == 1
    assert clgd.conv_att.in_channels == 3 + 6 and clgd.conv_att.out_channels == 1
    low, high = torch.randn(2, 4, 8, 8, requires_grad=True), torch.randn(2, 6, 4, 4, requires_grad=True)
    out = clgd(low, high)
    assert out.shape == (2, 5, 8, 8)
    out.sum().backward()
    assert torch.isfinite(low.grad).all() and torch.isfinite(high.grad).all()
