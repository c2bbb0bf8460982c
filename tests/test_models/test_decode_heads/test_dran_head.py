"""DRANHead: CPAM + CCAM on the high level, CLGD with the low level."""

import pytest

from segtools.models.decode_heads.dran_head import DRANHead  # noqa: F401  (registers it)

BASE = dict(type='DRANHead', in_channels=[4, 16], in_index=[0, 3], channels=8, clgd_channels=4)


def test_dranet_widths(build_head):
    head = build_head(BASE)
    inter = 16 // 4
    assert head.conv_cpam_b.conv.out_channels == inter
    assert head.ccam_enc.conv.out_channels == 1  # max(inter // 16, 1)
    assert head.cpam_enc.num_regions == 1 + 4 + 9 + 36
    assert head.conv_cat.conv.in_channels == 2 * inter
    assert head.clgd.conv_low.conv.in_channels == 4


@pytest.mark.parametrize('low_index', [0, 1])
def test_output_at_the_low_level(low_index, feats, build_head):
    head = build_head(dict(BASE, in_channels=[(4, 8)[low_index], 16], in_index=[low_index, 3], inter_channels=32))
    side = feats[low_index].shape[-1]
    assert head(feats).shape == (2, 3, side, side)


def test_needs_two_levels(build_head):
    with pytest.raises(ValueError, match='low-level, high-level'):
        build_head(dict(BASE, in_channels=[4, 8, 16], in_index=[0, 1, 3]))
