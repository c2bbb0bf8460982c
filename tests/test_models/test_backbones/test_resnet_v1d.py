"""Tests of ResNetV1d (deep stem + average-pool shortcuts)."""

import pytest
import torch
from torch import nn

from segtools.models.backbones.resnet_v1d import ResNetV1d


def test_stem_and_shortcuts():
    model = ResNetV1d(50, base_channels=8, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    convs = [m for m in model.stem if isinstance(m, nn.Conv2d)]
    # PyTorch-Encoding's resnet50d: stem width 32, 64 channels out.
    assert [c.out_channels for c in convs] == [32, 32, 64]
    for name, stride in (('layer2', 2), ('layer3', 2), ('layer4', 1)):
        pool, conv, _ = getattr(model, name)[0].downsample
        assert isinstance(pool, nn.AvgPool2d) and pool.stride == stride and conv.stride == (1, 1)
    outs = model(torch.randn(2, 3, 64, 64))
    assert model.out_strides == (4, 8, 16, 16)
    assert [o.shape[1:] for o in outs] == [
        (c, 64 // s, 64 // s) for c, s in zip(model.out_channels, model.out_strides, strict=True)
    ]


def test_avg_down_is_fixed():
    with pytest.raises(TypeError, match='avg_down'):
        ResNetV1d(50, avg_down=False)
