"""DepthwiseSeparableASPPHead (DeepLabV3+): MMSegmentation's structure and forward."""

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule

from segtools.models.decode_heads.sep_aspp_head import DepthwiseSeparableASPPHead  # noqa: F401  (registers it)

BASE = dict(
    type='DepthwiseSeparableASPPHead',
    in_channels=16,
    in_index=3,
    channels=4,
    c1_in_channels=4,
    c1_channels=2,
    dilations=(1, 2, 3),
    dropout_ratio=0.0,
)


def test_structure(build_head):
    head = build_head(BASE)
    one_by_one, *atrous = head.aspp.branches
    assert isinstance(one_by_one, ConvModule) and one_by_one.conv.kernel_size == (1, 1)
    assert all(isinstance(b, DepthwiseSeparableConvModule) for b in atrous)
    assert [b.depthwise_conv.conv.dilation[0] for b in atrous] == [2, 3]
    assert all(b.depthwise_conv.norm_name and b.depthwise_conv.activate for b in atrous)  # mmseg's defaults
    assert head.bottleneck.conv.in_channels == 4 * 4 and head.bottleneck.conv.kernel_size == (3, 3)
    assert head.c1_bottleneck.conv.in_channels == 4 and head.c1_bottleneck.conv.out_channels == 2
    assert head.sep_bottleneck[0].depthwise_conv.conv.in_channels == 4 + 2
    assert head.sep_bottleneck[1].pointwise_conv.conv.out_channels == 4


def test_forward_is_mmsegs(feats, build_head):
    head = build_head(BASE).eval()
    with torch.no_grad():
        x = feats[3]
        pooled = head.aspp.image_pool.conv(F.adaptive_avg_pool2d(x, 1))
        outs = [F.interpolate(pooled, x.shape[2:], mode='bilinear')] + [b(x) for b in head.aspp.branches]
        out = head.bottleneck(torch.cat(outs, 1))
        c1 = head.c1_bottleneck(feats[0])  # the first level, whatever in_index selects
        out = torch.cat([F.interpolate(out, c1.shape[2:], mode='bilinear'), c1], 1)
        expected = head.conv_seg(head.sep_bottleneck(out))
        torch.testing.assert_close(head(feats), expected)
    assert expected.shape == (2, 3, 16, 16)


def test_without_decoder(feats, build_head):
    head = build_head(dict(BASE, c1_in_channels=0, c1_channels=0))
    assert head.c1_bottleneck is None
    assert head(feats).shape == (2, 3, 4, 4)


@pytest.mark.parametrize('c1', [dict(c1_in_channels=0, c1_channels=2), dict(c1_in_channels=4, c1_channels=0)])
def test_decoder_channels_come_together(c1, build_head):
    with pytest.raises(ValueError, match='c1_in_channels and c1_channels'):
        build_head(dict(BASE, **c1))


def test_c1_in_channels_checked_against_the_backbone(build_head):
    head = build_head(BASE)
    head.check_in_channels((4, 8, 12, 16), 'backbone', 'decode_head')
    with pytest.raises(ValueError, match=r'decode_head.c1_in_channels=4 .* set decode_head.c1_in_channels=6'):
        head.check_in_channels((6, 8, 12, 16), 'backbone', 'decode_head')
