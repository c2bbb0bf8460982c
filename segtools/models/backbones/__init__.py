"""Backbones; each declares ``out_channels`` and ``out_strides`` per output."""

from .resnest import ResNeSt
from .resnet import ResNet
from .resnet_v1c import ResNetV1c
from .resnet_v1d import ResNetV1d
from .resnext import ResNeXt
from .wide_resnet import WideResNet
from .xception import Xception65

__all__ = ['ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt', 'ResNeSt', 'WideResNet', 'Xception65']
