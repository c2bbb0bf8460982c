"""ATTENHead: ACF attention, the global branch and the context gating."""

import pytest

from segtools.models.decode_heads.atten_head import ATTENHead  # noqa: F401  (registers it)

BASE = dict(type='ATTENHead', in_channels=16, channels=16, num_heads=2, num_codes=4)


@pytest.mark.parametrize('with_global', [False, True])
@pytest.mark.parametrize('with_enc', [False, True])
def test_options(with_global, with_enc, feats, build_head):
    head = build_head(dict(BASE, with_global=with_global, with_enc=with_enc))
    d_model = 8 if with_global else 16
    assert head.conv_in.conv.out_channels == d_model
    assert head.acf.conv_out.out_channels == d_model
    assert (head.global_pool is not None) == with_global
    assert (head.enc_module is not None) == with_enc
    assert head(feats).shape == (2, 3, 4, 4)


def test_head_widths(build_head):
    # PyTorch-Encoding: d_k = d / heads * mixtures, d_v = d / heads.
    head = build_head(dict(BASE, num_mixtures=2))
    assert head.acf.d_k == 8 and head.acf.d_v == 4
    assert head.acf.attention.n_mix == 2


@pytest.mark.parametrize('kq_transform', ['ffn', 'dffn'])
def test_kq_transforms(kq_transform, feats, build_head):
    head = build_head(dict(BASE, kq_transform=kq_transform))
    assert head(feats).shape == (2, 3, 4, 4)


def test_heads_must_divide_the_width(build_head):
    with pytest.raises(ValueError, match='num_heads'):
        build_head(dict(BASE, num_heads=3))
