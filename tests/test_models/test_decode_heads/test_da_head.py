"""DAHead: PAM + CAM branches, fused logits and the branch losses."""

import torch

from segtools.models.decode_heads.da_head import DAHead  # noqa: F401  (registers it)

BASE = dict(type='DAHead', in_channels=16, channels=8)


def test_attention_starts_as_identity(build_head):
    head = build_head(BASE)
    assert head.pam.gamma.item() == 0 and head.cam.gamma.item() == 0
    assert head.pam.query_conv.out_channels == 1  # channels // 8


def test_predict_uses_the_fused_branches(feats, build_head):
    head = build_head(dict(BASE, dropout_ratio=0.0)).eval()
    pam_feat, cam_feat, fused = head._forward_all(feats)
    torch.testing.assert_close(fused, head.conv_seg(pam_feat + cam_feat))
    torch.testing.assert_close(head(feats), fused)


def test_branch_losses(feats, build_head, make_samples):
    head = build_head(dict(BASE, pam_channels=2))
    losses = head.loss(feats, make_samples(), {})
    assert set(losses) == {f'{p}{k}' for p in ('', 'pam.', 'cam.') for k in ('loss_ce', 'acc_seg')}


def test_without_branch_losses(feats, build_head, make_samples):
    head = build_head(dict(BASE, use_branch_loss=False))
    assert head.pam_conv_seg is None and head.cam_conv_seg is None
    assert set(head.loss(feats, make_samples(), {})) == {'loss_ce', 'acc_seg'}
