"""Tests of ResNeXt."""

import pytest
import torch

from segtools.models.backbones.resnext import ResNeXt


@pytest.mark.parametrize('depth,base_width,millions', [(50, 4, 25.0), (101, 8, 88.8)])
def test_imagenet_parameter_counts(depth, base_width, millions):
    with torch.device('meta'):
        model = ResNeXt(depth, groups=32, base_width=base_width, num_classes=1000)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(millions, rel=0.005)


def test_grouped_convs_and_shapes():
    model = ResNeXt(50, groups=4, base_width=4, base_channels=16, stem_channels=16)
    convs = [block.conv2 for block in model.layer1]
    assert convs
    # mmseg's rule: width = planes * base_width // base_channels * groups.
    assert all(c.groups == 4 and c.out_channels == 16 * 4 // 16 * 4 for c in convs)
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [
        (c, 64 // s, 64 // s) for c, s in zip(model.out_channels, model.out_strides, strict=True)
    ]


def test_basic_block_depths_are_rejected():
    with pytest.raises(ValueError, match='50, 101, 152'):
        ResNeXt(18)


def test_one_group_ignores_base_width_as_in_mmseg():
    model = ResNeXt(50, groups=1, base_width=4, base_channels=8, stem_channels=8)
    assert [getattr(model, name)[0].conv2.out_channels for name in model.res_layers] == [8, 16, 32, 64]


def test_base_width_without_whole_width_at_64_planes_is_refused():
    with pytest.raises(ValueError, match='base_channels must divide 256'):
        ResNeXt(50, groups=4, base_width=4, base_channels=48)
