"""ATTENHead: ACF attention, the global branch and the context gating."""

import pytest
import torch
import torch.nn.functional as F

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


# Laterals c2 (8 channels, 8x8), c3 (12, 4x4) and the main input (16, 4x4), as PyTorch-Encoding's c2, c3, c4.
LATERAL = dict(BASE, in_channels=[8, 12, 16], in_index=[1, 2, 3], input_transform='multiple_select', with_lateral=True)


def test_defaults_match_pytorch_encoding(build_head):
    head = build_head(BASE)
    assert head.lateral_fuse is None
    assert head.se_layer is None and head.loss_se_decode is None


@pytest.mark.parametrize('with_global', [False, True])
@pytest.mark.parametrize(
    ('in_channels', 'in_index'),
    [([8, 12, 16], [1, 2, 3]), ([4, 16], [0, 3])],  # the second lateral is 4x finer than the main input
)
def test_lateral_shapes(with_global, in_channels, in_index, feats, build_head):
    head = build_head(dict(LATERAL, in_channels=in_channels, in_index=in_index, with_global=with_global))
    d_model = 8 if with_global else 16
    fuse = head.lateral_fuse
    assert head.conv_in.conv.in_channels == 16
    assert [m.conv.in_channels for m in fuse.lateral_convs] == in_channels[:-1]
    assert [m.conv.out_channels for m in fuse.lateral_convs] == [d_model] * (len(in_channels) - 1)
    assert fuse.fusion.conv.in_channels == len(in_channels) * d_model
    assert fuse.fusion.conv.out_channels == d_model
    assert head(feats).shape == (2, 3, 4, 4)


def test_lateral_gradients_reach_the_lateral_convs(feats, build_head, make_samples):
    head = build_head(LATERAL)
    losses = head.loss(feats, make_samples(), {})
    sum(value for key, value in losses.items() if key.startswith('loss_')).backward()
    convs = [m.conv for m in [*head.lateral_fuse.lateral_convs, head.lateral_fuse.fusion]]
    assert len(convs) == 3
    for conv in convs:
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_lateral_changes_the_output(feats, build_head):
    # The laterals feed the output: changing c2 alone changes the logits.
    head = build_head(dict(LATERAL, dropout_ratio=0.0)).eval()
    changed = list(feats)
    changed[1] = feats[1] + 1.0
    with torch.no_grad():
        assert not torch.allclose(head(feats), head(changed))


@pytest.mark.parametrize(
    ('overrides', 'match'),
    [
        (dict(with_lateral=True), "input_transform='multiple_select'"),
        (dict(LATERAL, with_lateral=False), "input_transform='multiple_select'"),
        (dict(LATERAL, in_channels=[16], in_index=[3]), 'at least two inputs'),
        (dict(with_enc=False, use_se_loss=True), 'with_enc'),
    ],
)
def test_invalid_combinations(overrides, match, build_head):
    with pytest.raises(ValueError, match=match):
        build_head(dict(BASE, **overrides))


@pytest.mark.parametrize('lateral', [False, True])
def test_se_loss_is_weighted_bce_of_class_presence(lateral, feats, build_head, make_samples):
    head = build_head(dict(LATERAL if lateral else BASE, use_se_loss=True))
    assert head.se_layer.in_features == 16 and head.se_layer.out_features == 3
    # ACF's attention dropout makes forwards differ: capture the SE logits of the loss's own forward.
    captured = []
    head.se_layer.register_forward_hook(lambda module, args, out: captured.append(out))
    samples = make_samples()
    losses = head.loss(feats, samples, {})
    assert set(losses) == {'loss_ce', 'loss_se', 'acc_seg'}
    assert len(captured) == 1

    presence = torch.zeros(2, 3)
    for i, sample in enumerate(samples):
        for c in range(3):
            presence[i, c] = float((sample.gt_sem_seg.data == c).any())
    assert presence.sum() > 0  # the target is not trivially empty
    expected = 0.2 * F.binary_cross_entropy_with_logits(captured[0], presence)
    torch.testing.assert_close(losses['loss_se'], expected)
    losses['loss_se'].backward()
    assert head.se_layer.weight.grad.abs().sum() > 0


def test_se_loss_config(feats, build_head, make_samples):
    head = build_head(dict(BASE, use_se_loss=True, loss_se_decode=dict(type='SELoss', loss_weight=0.5)))
    assert head.loss_se_decode.loss_weight == 0.5
    assert 'loss_se' in head.loss(feats, make_samples(), {})


def test_forward_returns_seg_logits_only(feats, build_head):
    out = build_head(dict(LATERAL, use_se_loss=True))(feats)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 4, 4)


@pytest.mark.parametrize('key', ['with_laterals', 'use_se_los', 'loss_se'])
def test_misspelt_key_raises_type_error(key, build_head):
    with pytest.raises(TypeError, match=key):
        build_head(dict(BASE, **{key: True}))
