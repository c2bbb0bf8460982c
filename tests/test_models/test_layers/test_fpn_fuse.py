"""FPNFusion: lateral convs, top-down sums, output convs, upsample and concat."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segtools.models.layers.fpn_fuse import FPNFusion


def up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def test_shape_and_channels():
    fuse = FPNFusion([3, 5, 7], 4, norm_cfg=dict(type='BN'))
    assert fuse.out_channels == 16
    lower = [torch.randn(2, c, s, s) for c, s in [(3, 16), (5, 8), (7, 4)]]
    assert fuse(lower, torch.randn(2, 4, 2, 2)).shape == (2, 16, 16, 16)


def test_with_identity_convs_it_is_the_top_down_sum():
    # Identity 1x1 laterals and 3x3 output convs, no norm or activation: level i of the output
    # is the top-down sum p_i = x_i + up(p_{i+1}), upsampled to the finest size.
    fuse = FPNFusion([4, 4], 4, act_cfg=None)
    convs = [m.conv for m in [*fuse.lateral_convs, *fuse.fpn_convs]]
    assert convs
    for conv in convs:
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
        k = conv.kernel_size[0] // 2
        for c in range(4):
            conv.weight.data[c, c, k, k] = 1.0
    x0, x1, top = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4), torch.randn(2, 4, 2, 2)
    p1 = x1 + up(top, (4, 4))
    p0 = x0 + up(p1, (8, 8))
    expected = torch.cat([p0, up(p1, (8, 8)), up(top, (8, 8))], dim=1)
    torch.testing.assert_close(fuse([x0, x1], top), expected)


def test_wrong_number_of_levels():
    fuse = FPNFusion([4, 4], 4)
    with pytest.raises(ValueError, match='lower levels'):
        fuse([torch.randn(1, 4, 4, 4)], torch.randn(1, 4, 2, 2))
