"""EncHead: context encoding, laterals and the SE loss."""

import importlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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
    se_logits = head.forward_with_aux(feats)[1]['se']
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


def test_without_norm_the_codes_get_bn1d(feats, build_head, make_samples):
    # MMSegmentation: no norm in the convs, BatchNorm1d over the codes.
    head = build_head(dict(BASE, norm_cfg=None))
    assert isinstance(head.enc_module.codes_norm, nn.BatchNorm1d)
    assert head.bottleneck.norm_name is None and head.enc_module.encoding_project.norm_name is None
    assert set(head.loss(feats, make_samples(), {})) == {'loss_ce', 'loss_se', 'acc_seg'}


def mmseg_se_loss(se_logits, seg_label, num_classes, loss_weight, reduction='mean'):
    """MMSegmentation's SE loss by hand: histc presence (labels 0..C-1), BCE, its reduction."""
    presence = torch.stack(
        [(label.float().histc(bins=num_classes, min=0, max=num_classes - 1) > 0).float() for label in seg_label]
    )
    losses = -(presence * F.logsigmoid(se_logits) + (1 - presence) * F.logsigmoid(-se_logits))
    value = {'mean': losses.sum() / losses.numel(), 'sum': losses.sum(), 'none': losses}[reduction]
    return loss_weight * value


@pytest.mark.parametrize('reduction', ['mean', 'sum'])
@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_mmseg_cross_entropy_se_loss_is_mmsegs_formula(reduction, avg_non_ignore, feats, build_head, make_samples):
    loss_se_decode = dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.2, reduction=reduction, avg_non_ignore=avg_non_ignore
    )
    head = build_head(dict(BASE, dropout_ratio=0.0, loss_se_decode=loss_se_decode))
    samples = make_samples()
    # One image lacks class 2, so the presence vector has zeros as well as ones.
    samples[1].gt_sem_seg.data[samples[1].gt_sem_seg.data == 2] = 0
    losses = head.loss(feats, samples, {})
    assert set(losses) == {'loss_ce', 'loss_se', 'acc_seg'}  # mmseg's key, not the CE's default 'loss_ce'
    se_logits = head.forward_with_aux(feats)[1]['se']
    seg_label = torch.cat([sample.gt_sem_seg.data for sample in samples])
    torch.testing.assert_close(losses['loss_se'], mmseg_se_loss(se_logits, seg_label, 3, 0.2, reduction))
    # The same number as segtools' SELoss form.
    se_form = build_head(dict(BASE, dropout_ratio=0.0))
    se_form.load_state_dict(head.state_dict())
    if reduction == 'mean':
        torch.testing.assert_close(se_form.loss(feats, samples, {})['loss_se'], losses['loss_se'])


def test_mmseg_se_loss_named_otherwise_keeps_its_name(feats, build_head, make_samples):
    cfg = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.2, loss_name='loss_presence')
    head = build_head(dict(BASE, loss_se_decode=cfg))
    assert set(head.loss(feats, make_samples(), {})) == {'loss_ce', 'loss_presence', 'acc_seg'}


@pytest.mark.parametrize(
    'loss_se_decode, match',
    [
        (dict(type='CrossEntropyLoss', use_sigmoid=False), 'use_sigmoid=True'),
        (dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[1.0, 2.0, 3.0]), 'pos_weight'),
        (dict(type='DiceLoss'), 'SELoss or CrossEntropyLoss'),
    ],
)
def test_other_se_losses_are_refused(loss_se_decode, match, build_head):
    importlib.import_module('segtools.models.losses.dice_loss')
    with pytest.raises(ValueError, match=f'loss_se_decode.*{match}|{match}.*'):
        build_head(dict(BASE, loss_se_decode=loss_se_decode))


def test_ohem_sampler_weights_the_decode_loss_only(feats, build_head, make_samples):
    head = build_head(dict(BASE, dropout_ratio=0.0, sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10)))
    plain = build_head(dict(BASE, dropout_ratio=0.0))
    plain.load_state_dict(head.state_dict())
    samples = make_samples()
    with_sampler, without = head.loss(feats, samples, {}), plain.loss(feats, samples, {})
    torch.testing.assert_close(with_sampler['loss_se'], without['loss_se'])
    assert with_sampler['loss_ce'] <= without['loss_ce']


def test_sync_bn_norms_the_codes(feats, build_head):
    # ReLU not in place: SyncBatchNorm's output is a view made inside its autograd Function,
    # which autograd forbids modifying in place (reported to the SyncBN owner).
    head = build_head(dict(BASE, norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='ReLU', inplace=False)))
    assert isinstance(head.enc_module.codes_norm, SyncBatchNorm)
    assert head(feats).shape == (2, 3, 4, 4)
