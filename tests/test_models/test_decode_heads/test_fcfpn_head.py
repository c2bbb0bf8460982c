"""FCFPNHead: a 3x3 conv on the top level, FPN fusion of all levels."""

import pytest

from segtools.models.decode_heads.fcfpn_head import FCFPNHead  # noqa: F401  (registers it)

LEVELS = dict(in_channels=[4, 8, 12, 16], in_index=[0, 1, 2, 3])


def test_fpn_channels(feats, build_head):
    head = build_head(dict(type='FCFPNHead', channels=8, fpn_channels=4, **LEVELS))
    assert head.top_conv.conv.kernel_size == (3, 3)
    assert head.top_conv.conv.out_channels == 4
    assert head.fpn_bottleneck.conv.in_channels == 4 * 4
    assert head.fpn_bottleneck.conv.out_channels == 8
    assert head(feats).shape == (2, 3, 16, 16)


def test_fpn_channels_default_to_channels(build_head):
    head = build_head(dict(type='FCFPNHead', channels=8, **LEVELS))
    assert head.top_conv.conv.out_channels == 8


def test_needs_several_levels(build_head):
    with pytest.raises(ValueError, match='at least two'):
        build_head(dict(type='FCFPNHead', channels=8, in_channels=[16], in_index=[3]))
