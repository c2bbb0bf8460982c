"""ASPPHead: MMSegmentation's 3x3 fusion and PyTorch-Encoding's projection + dropout."""

import pytest
from torch import nn

from segtools.models.decode_heads.aspp_head import ASPPHead  # noqa: F401  (registers it)


def test_default_dilations_are_mmsegs(build_head):
    # MMSegmentation's class default (output stride 16): an mmseg config leaving it out means the same.
    head = build_head(dict(type='ASPPHead', in_channels=16, channels=4))
    assert head.aspp.dilations == (1, 6, 12, 18)


def test_mmseg_fusion(feats, build_head):
    head = build_head(dict(type='ASPPHead', in_channels=16, channels=4, dilations=(1, 2, 3)))
    assert head.project is None
    assert head.bottleneck.conv.in_channels == 4 * 4
    assert head(feats).shape == (2, 3, 4, 4)


@pytest.mark.parametrize('ratio', [0.0, 0.5])
def test_encoding_projection(ratio, feats, build_head):
    head = build_head(
        dict(type='ASPPHead', in_channels=16, channels=4, dilations=(1, 2, 3), project_dropout_ratio=ratio)
    )
    conv, dropout = head.project
    assert conv.conv.in_channels == 16 and conv.conv.out_channels == 4
    assert isinstance(dropout, nn.Dropout2d) and dropout.p == ratio
    assert head.bottleneck.conv.in_channels == 4
    assert head(feats).shape == (2, 3, 4, 4)
