"""Tests of ResNetV1c (deep stem)."""

import pytest
import torch
from torch import nn

from segtools.models.backbones.resnet_v1c import ResNetV1c


def test_deep_stem_widths_default_to_mmseg():
    model = ResNetV1c(50)
    convs = [m for m in model.stem if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [
        (3, 32, (2, 2)),
        (32, 32, (1, 1)),
        (32, 64, (1, 1)),
    ]
    assert model.layer1[0].conv1.in_channels == 64
    assert not hasattr(model, 'conv1')


def test_pytorch_encoding_stem_is_128_wide():
    model = ResNetV1c(50, stem_channels=128)
    convs = [m for m in model.stem if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128] and model.layer1[0].conv1.in_channels == 128


@pytest.mark.parametrize('depth', [18, 50])
def test_output_stride_8(depth):
    model = ResNetV1c(
        depth, stem_channels=16, base_channels=8, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True
    )
    outs = model(torch.randn(2, 3, 64, 64))
    assert model.out_strides == (4, 8, 8, 8)
    assert [o.shape[1:] for o in outs] == [
        (c, 64 // s, 64 // s) for c, s in zip(model.out_channels, model.out_strides, strict=True)
    ]


def test_deep_stem_is_fixed():
    with pytest.raises(TypeError, match='deep_stem'):
        ResNetV1c(50, deep_stem=False)
