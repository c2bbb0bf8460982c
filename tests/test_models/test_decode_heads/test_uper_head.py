"""UPerHead: pyramid pooling on the top level, FPN fusion of all levels."""

import pytest

from segtools.models.decode_heads.uper_head import UPerHead  # noqa: F401  (registers it)


def test_structure_and_output(feats, build_head):
    head = build_head(dict(type='UPerHead', in_channels=[4, 8, 12, 16], in_index=[0, 1, 2, 3], channels=8))
    assert head.psp.out_channels == 16 + 4 * 8
    assert len(head.fpn.lateral_convs) == 3
    assert head.fpn_bottleneck.conv.in_channels == 4 * 8
    assert head(feats).shape == (2, 3, 16, 16)


def test_two_levels(feats, build_head):
    head = build_head(dict(type='UPerHead', in_channels=[8, 16], in_index=[1, 3], channels=4))
    assert head(feats).shape == (2, 3, 8, 8)


@pytest.mark.parametrize(
    'levels', [dict(in_channels=[16], in_index=[3]), dict(in_channels=16, in_index=3)], ids=['one', 'int']
)
def test_needs_several_levels(levels, build_head):
    with pytest.raises(ValueError):
        build_head(dict(type='UPerHead', channels=4, **levels))
