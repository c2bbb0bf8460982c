"""EncHead: context encoding, laterals and the SE loss."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.decode_heads.enc_head import EncHead  # noqa: F401  (registers it)
from segtools.models.layers.sync_bn import SyncBatchNorm

BASE = dict(type='EncHead', in_channels=[8, 12, 16], in_index=[1, 2, 3], channels=8, num_codes=4)


def test_forward_returns_seg_logits_only(feats, build_head):
    head = build_head(BASE)
    out = head(feats)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 4, 4)


def test_se_loss_is_weighted_bce_of_class_presence(feats, build_head, make_samples):
    head = build_head(dict(BASE, dropout_ratio=0.0))
    samples = make_samples()
    losses = head.loss(feats, samples, {})
    assert set(losses) == {'loss_ce', 'loss_se', 'acc_seg'}

    # Train-mode BN is deterministic and no dropout: recomputing gives the same SE logits.
    _, se_logits = head._forward_both(feats)
    presence = torch.zeros(2, 3)
    for i, sample in enumerate(samples):
        for c in range(3):
            presence[i, c] = float((sample.gt_sem_seg.data == c).any())
    expected = 0.2 * F.binary_cross_entropy_with_logits(se_logits, presence)
    torch.testing.assert_close(losses['loss_se'], expected)


def test_without_se_loss(feats, build_head, make_samples):
    head = build_head(dict(BASE, use_se_loss=False))
    assert head.se_layer is None and head.loss_se_decode is None
    assert set(head.loss(feats, make_samples(), {})) == {'loss_ce', 'acc_seg'}


def test_lateral(feats, build_head):
    head = build_head(dict(BASE, add_lateral=True))
    assert [conv.conv.in_channels for conv in head.lateral_fuse.lateral_convs] == [8, 12]
    assert head.lateral_fuse.fusion.conv.in_channels == 3 * 8
    assert head(feats).shape == (2, 3, 4, 4)


def test_no_lateral_by_default(build_head):
    assert build_head(BASE).lateral_fuse is None


def test_lateral_gradients_reach_the_lateral_convs(feats, build_head, make_samples):
    head = build_head(dict(BASE, add_lateral=True))
    losses = head.loss(feats, make_samples(), {})
    sum(value for key, value in losses.items() if key.startswith('loss_')).backward()
    convs = [m.conv for m in [*head.lateral_fuse.lateral_convs, head.lateral_fuse.fusion]]
    assert len(convs) == 3
    for conv in convs:
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_lateral_brings_finer_levels_to_the_last_size(feats, build_head):
    head = build_head(dict(BASE, in_channels=[4, 16], in_index=[0, 3], add_lateral=True))
    assert head(feats).shape == (2, 3, 4, 4)


def test_needs_norm(build_head):
    with pytest.raises(ValueError, match='norm_cfg'):
        build_head(dict(BASE, norm_cfg=None))


def test_sync_bn_norms_the_codes(feats, build_head):
    # ReLU not in place: SyncBatchNorm's output is a view made inside its autograd Function,
    # which autograd forbids modifying in place (reported to the SyncBN owner).
    head = build_head(dict(BASE, norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='ReLU', inplace=False)))
    assert isinstance(head.enc_module.codes_norm, SyncBatchNorm)
    assert head(feats).shape == (2, 3, 4, 4)
