"""torchvision / timm ImageNet ResNet, ResNeXt and ResNeSt weights -> segtools backbone keys.

Used by the model store (``convert='torchvision:<arch>'``) and
``tools/model_converters/torchvision2segtools.py``. Layouts:

- torchvision ``resnet*``/``resnext*`` (also timm's plain ``resnet*``): ``conv1``, ``bn1``,
  ``layer*.N.{conv,bn}{1,2,3}``, ``downsample.{0,1}``, ``fc`` -> segtools ``ResNet``/``ResNeXt``
  under the same names (``fc`` dropped).
- timm ``resnet*d`` (deep stem of 3x3 convs, average-pool shortcut) -> ``ResNetV1d``.
- timm ``resnest*d``: deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` -> ``stem.{0,1,3,4,6,7}``,
  split-attention ``conv2.{conv,bn0,fc1,bn1,fc2}``, shortcut ``downsample.{1,2}`` -> ``ResNeSt``.

The result holds backbone keys without a ``backbone.`` prefix (a backbone's ``Pretrained`` init),
the classifier ``fc`` dropped. ``<arch>:classifier`` (``resnet50:classifier``,
``resnest50d:classifier`` ...) is the whole ImageNet classifier in :class:`ImageClassifier` keys:
the backbone under ``backbone.``, ``fc`` as ``head.fc`` (``GlobalAveragePooling`` neck,
``LinearClsHead(num_classes=1000)``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .common import Conversion, backbone_rules, convert_keys, image_classifier_rules

_PLAIN = dict(deep_stem=False, avg_down=False, split_attention=False)
_V1D = dict(deep_stem=True, avg_down=True, split_attention=False)
_RESNEST = dict(deep_stem=True, avg_down=True, split_attention=True)

SOURCE = 'torchvision/timm'
# Source name -> layout of backbone_rules. timm's ResNeSt names end with 'd' (deep stem, avg down).
LAYOUTS: dict[str, dict[str, bool]] = {
    **{name: _PLAIN for name in ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152')},
    **{name: _PLAIN for name in ('resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'wide_resnet50_2')},
    **{name: _V1D for name in ('resnet50d', 'resnet101d', 'resnet152d')},
    **{name: _RESNEST for name in ('resnest50d', 'resnest101e', 'resnest200e', 'resnest269e')},
}
CLASSIFIER_SUFFIX = ':classifier'
CLASSIFIER_ARCHS = frozenset(f'{name}{CLASSIFIER_SUFFIX}' for name in LAYOUTS)
ARCHS = [*LAYOUTS, *(f'{name}{CLASSIFIER_SUFFIX}' for name in LAYOUTS)]
# The archs whose keys have no ``backbone.`` prefix (not the classifiers).
BACKBONE_ARCHS = frozenset(LAYOUTS)


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts ``state_dict`` of source ``arch`` (see :data:`LAYOUTS` and :func:`.common.convert_keys`).

    Raises:
        KeyError: Unknown ``arch``, naming the accepted ones.
        ConversionError: A key no rule matches.
    """
    name = arch.removesuffix(CLASSIFIER_SUFFIX)
    if name not in LAYOUTS:
        raise KeyError(f'unknown torchvision/timm arch {arch!r}; expected one of {sorted(ARCHS)}')
    rules = backbone_rules(**LAYOUTS[name])
    if arch.endswith(CLASSIFIER_SUFFIX):
        rules = image_classifier_rules(rules)
    return convert_keys(state_dict, rules, arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Source ``state_dict`` -> segtools backbone state dict (classifier dropped unless ``:classifier``)."""
    return convert_with_report(state_dict, arch).state_dict
