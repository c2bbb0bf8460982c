"""ASPP: branches, dilations, output channels."""

import pytest
import torch

from segtools.models.layers.aspp import ASPP


@pytest.mark.parametrize('dilations', [(1, 12, 24, 36), (12, 24, 36), (1, 2)])
def test_branches_and_dilations(dilations):
    aspp = ASPP(8, 4, dilations=dilations)
    assert len(aspp.branches) == len(dilations)
    assert len(dilations) > 0
    for branch, d in zip(aspp.branches, dilations, strict=True):
        k = 1 if d == 1 else 3
        assert branch.conv.kernel_size == (k, k)
        assert branch.conv.dilation == (d, d)
        assert branch.conv.padding == ((0, 0) if d == 1 else (d, d))
    assert aspp.out_channels == (len(dilations) + 1) * 4


def test_output_keeps_the_size():
    torch.manual_seed(0)
    aspp = ASPP(8, 4, dilations=(1, 2, 3), norm_cfg=dict(type='BN')).eval()
    x = torch.randn(2, 8, 7, 5)
    out = aspp(x)
    assert out.shape == (2, 16, 7, 5)
    # The image-pooling branch comes first and is constant over the image.
    torch.testing.assert_close(out[:, :4], out[:, :4, :1, :1].expand(-1, -1, 7, 5))


@pytest.mark.parametrize('dilations', [(), (0, 2)])
def test_invalid_dilations(dilations):
    with pytest.raises(ValueError, match='dilations'):
        ASPP(8, 4, dilations=dilations)
