"""ImagePooling and PyramidPoolingModule."""

import pytest
import torch

from segtools.models.layers.ppm import ImagePooling, PyramidPoolingModule


def test_global_branch_is_the_conv_of_the_mean():
    torch.manual_seed(0)
    branch = ImagePooling(4, 3, norm_cfg=dict(type='BN')).eval()
    x = torch.randn(2, 4, 5, 7)
    out = branch(x)
    expected = branch.conv(x.mean(dim=(2, 3), keepdim=True)).expand(-1, -1, 5, 7)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('pool_scale', [2, 3])
def test_branch_upsamples_to_the_input(pool_scale):
    branch = ImagePooling(4, 3, pool_scale=pool_scale)
    assert branch(torch.randn(2, 4, 7, 6)).shape == (2, 3, 7, 6)


@pytest.mark.parametrize('pool_scales', [(1,), (1, 2, 3, 6)])
def test_output_channels_and_passthrough(pool_scales):
    torch.manual_seed(0)
    ppm = PyramidPoolingModule(8, 2, pool_scales=pool_scales, norm_cfg=dict(type='BN'))
    x = torch.randn(2, 8, 9, 9)
    out = ppm(x)
    assert ppm.out_channels == 8 + 2 * len(pool_scales)
    assert out.shape == (2, ppm.out_channels, 9, 9)
    torch.testing.assert_close(out[:, :8], x)


def test_empty_scales():
    with pytest.raises(ValueError, match='pool_scales'):
        PyramidPoolingModule(8, 2, pool_scales=())
