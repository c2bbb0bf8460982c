"""Convert torchvision / timm ImageNet ResNet, ResNeXt and ResNeSt weights to segtools backbones.

Usage::

    python tools/model_converters/torchvision2segtools.py resnet50-0676ba61.pth r50.pth --arch resnet50 \\
        --config configs/pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py

Layouts:

- torchvision ``resnet*``/``resnext*`` (also timm's plain ``resnet*``): ``conv1``, ``bn1``,
  ``layer*.N.{conv,bn}{1,2,3}``, ``downsample.{0,1}``, ``fc`` -> segtools ``ResNet``/``ResNeXt``
  under the same names (``fc`` dropped).
- timm ``resnet*d`` (deep stem of 3x3 convs, average-pool shortcut) -> ``ResNetV1d``.
- timm ``resnest*d``: deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` -> ``stem.{0,1,3,4,6,7}``,
  split-attention ``conv2.{conv,bn0,fc1,bn1,fc2}``, shortcut ``downsample.{1,2}`` -> ``ResNeSt``.

The output holds backbone keys without a ``backbone.`` prefix (a backbone's ``pretrained``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import torch
from _common import Conversion, backbone_rules, convert_keys, run_cli

_PLAIN = dict(deep_stem=False, avg_down=False, split_attention=False)
_V1D = dict(deep_stem=True, avg_down=True, split_attention=False)
_RESNEST = dict(deep_stem=True, avg_down=True, split_attention=True)

# Source name -> layout of backbone_rules. timm's ResNeSt names end with 'd' (deep stem, avg down).
ARCHS: dict[str, dict[str, bool]] = {
    **{name: _PLAIN for name in ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152')},
    **{name: _PLAIN for name in ('resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'wide_resnet50_2')},
    **{name: _V1D for name in ('resnet50d', 'resnet101d', 'resnet152d')},
    **{name: _RESNEST for name in ('resnest50d', 'resnest101e', 'resnest200e', 'resnest269e')},
}


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts ``state_dict`` of source ``arch`` (see :data:`ARCHS`); see :func:`_common.convert_keys`."""
    if arch not in ARCHS:
        raise KeyError(f'unknown torchvision/timm arch {arch!r}; expected one of {sorted(ARCHS)}')
    return convert_keys(state_dict, backbone_rules(**ARCHS[arch]), arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Source ``state_dict`` -> segtools backbone state dict (classifier dropped)."""
    return convert_with_report(state_dict, arch).state_dict


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        argv,
        description=__doc__.split('\n\n')[0],
        archs=list(ARCHS),
        convert_fn=convert_with_report,
        backbone_archs=ARCHS,
        source='torchvision/timm',
    )


if __name__ == '__main__':
    sys.exit(main())
