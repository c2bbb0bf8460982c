"""LateralFusion: 1x1 laterals resized to the main map, concatenated after it, a 3x3 fusion."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.layers.lateral_fuse import LateralFusion


@pytest.mark.parametrize('align_corners', [False, True])
def test_shape_keeps_the_main_size(align_corners):
    fuse = LateralFusion([3, 5], 4, norm_cfg=dict(type='BN'), align_corners=align_corners)
    assert [m.conv.out_channels for m in fuse.lateral_convs] == [4, 4]
    assert fuse.fusion.conv.in_channels == 3 * 4 and fuse.fusion.conv.out_channels == 4
    laterals = [torch.randn(2, 3, 8, 8), torch.randn(2, 5, 4, 4)]
    assert fuse(torch.randn(2, 4, 4, 4), laterals).shape == (2, 4, 4, 4)


@pytest.mark.parametrize('align_corners', [False, True])
def test_matches_the_formula(align_corners):
    # No norm or activation: out = conv3x3(cat[main, resize(conv1x1_i(lateral_i))]), main first.
    torch.manual_seed(0)
    fuse = LateralFusion([3, 5], 4, act_cfg=None, align_corners=align_corners)
    main = torch.randn(2, 4, 5, 5)
    laterals = [torch.randn(2, 3, 10, 10), torch.randn(2, 5, 5, 5)]
    projected = [
        F.interpolate(
            F.conv2d(x, m.conv.weight, m.conv.bias), size=(5, 5), mode='bilinear', align_corners=align_corners
        )
        for x, m in zip(laterals, fuse.lateral_convs, strict=True)
    ]
    expected = F.conv2d(torch.cat([main, *projected], dim=1), fuse.fusion.conv.weight, fuse.fusion.conv.bias, padding=1)
    torch.testing.assert_close(fuse(main, laterals), expected)


def test_gradients_reach_every_conv():
    fuse = LateralFusion([3, 5], 4, norm_cfg=dict(type='BN'))
    fuse(torch.randn(2, 4, 4, 4), [torch.randn(2, 3, 8, 8), torch.randn(2, 5, 4, 4)]).square().sum().backward()
    convs = [m.conv for m in [*fuse.lateral_convs, fuse.fusion]]
    assert len(convs) == 3
    for conv in convs:
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_wrong_number_of_laterals():
    fuse = LateralFusion([3, 5], 4)
    with pytest.raises(ValueError, match='expected 2 lateral inputs, got 1'):
        fuse(torch.randn(1, 4, 4, 4), [torch.randn(1, 3, 4, 4)])


def test_needs_a_lateral():
    with pytest.raises(ValueError, match='at least one'):
        LateralFusion([], 4)
