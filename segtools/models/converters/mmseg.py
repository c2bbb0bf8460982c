"""MMSegmentation / OpenMMLab checkpoints -> segtools keys.

Used by the model store (``convert='mmseg:<arch>'``) and ``tools/model_converters/mmseg2segtools.py``.

Segmentors (arch = the decode head: ``fcn``, ``psp``, ``deeplabv3``, ``encnet``): backbones
(``ResNetV1c``/``ResNeSt``: ``backbone.stem.{0..7}``, ``backbone.layer*``) and FCN heads
(``convs.i``, ``conv_cat``, ``conv_seg``; also the ``auxiliary_head``, or each
``auxiliary_head.i`` of a list of them) share segtools' names.
Renamed (mmseg -> segtools):

- psp: ``decode_head.psp_modules.i.1`` (pool, ConvModule) -> ``decode_head.psp.branches.i.conv``.
- deeplabv3: ``decode_head.image_pool.1`` -> ``decode_head.aspp.image_pool.conv``;
  ``decode_head.aspp_modules.i`` -> ``decode_head.aspp.branches.i`` (both concatenate the image
  pooling first, so ``bottleneck`` is unchanged).
- encnet: ``decode_head.lateral_convs.i``/``fusion`` (``add_lateral=True``) ->
  ``decode_head.lateral_fuse.{lateral_convs.i,fusion}``;
  ``enc_module.encoding.0`` (Encoding) -> ``enc_module.encoding``; ``enc_module.encoding.1``
  (BatchNorm1d) -> ``enc_module.codes_norm``; ``enc_module.fc.0`` -> ``enc_module.fc``.

Backbones (arch ``resnet_v1c``): OpenMMLab's ImageNet ``resnet{18,50,101}_v1c`` files (mmseg's
``open-mmlab://resnet50_v1c``) hold ``stem.{0..7}`` and ``layer*`` under segtools' names, no
``backbone.`` prefix; their classifier ``fc`` (if any) is dropped. The rule still checks every key,
so a file of another layout is refused, naming its keys.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .common import Conversion, Rule, convert_keys

SOURCE = 'MMSegmentation'
_CONV_MODULE = r'(?:conv|bn|gn)'
_BACKBONE_PARTS = (
    r'(?:stem\.[0-7]|conv1|bn1|layer\d+\.\d+\.(?:conv[123]|bn[123]|conv2\.(?:conv|bn0|fc1|bn1|fc2)|downsample\.[0-2]))'
)
_BACKBONE = Rule(rf'(backbone\.{_BACKBONE_PARTS})', r'\1')
_FCN_PARTS = rf'(?:convs\.\d+|conv_cat)\.{_CONV_MODULE}|conv_seg'
# One FCN auxiliary head, or a list of them (``auxiliary_head.i.*``, mmseg's ModuleList).
_AUX = Rule(rf'(auxiliary_head\.(?:\d+\.)?(?:{_FCN_PARTS}))', r'\1')

HEADS: dict[str, list[Rule]] = {
    'fcn': [Rule(rf'(decode_head\.(?:{_FCN_PARTS}))', r'\1')],
    'psp': [
        Rule(rf'decode_head\.psp_modules\.(\d+)\.1\.({_CONV_MODULE})', r'decode_head.psp.branches.\1.conv.\2'),
        Rule(rf'(decode_head\.(?:bottleneck\.{_CONV_MODULE}|conv_seg))', r'\1'),
    ],
    'deeplabv3': [
        Rule(rf'decode_head\.image_pool\.1\.({_CONV_MODULE})', r'decode_head.aspp.image_pool.conv.\1'),
        Rule(rf'decode_head\.aspp_modules\.(\d+)\.({_CONV_MODULE})', r'decode_head.aspp.branches.\1.\2'),
        Rule(rf'(decode_head\.(?:bottleneck\.{_CONV_MODULE}|conv_seg))', r'\1'),
    ],
    'encnet': [
        Rule(rf'decode_head\.lateral_convs\.(\d+)\.({_CONV_MODULE})', r'decode_head.lateral_fuse.lateral_convs.\1.\2'),
        Rule(rf'decode_head\.fusion\.({_CONV_MODULE})', r'decode_head.lateral_fuse.fusion.\1'),
        Rule(r'decode_head\.enc_module\.encoding\.0', 'decode_head.enc_module.encoding'),
        Rule(r'decode_head\.enc_module\.encoding\.1', 'decode_head.enc_module.codes_norm'),
        Rule(r'decode_head\.enc_module\.fc\.0', 'decode_head.enc_module.fc'),
        Rule(
            rf'(decode_head\.(?:bottleneck\.{_CONV_MODULE}|enc_module\.encoding_project\.{_CONV_MODULE}|se_layer|conv_seg))',
            r'\1',
        ),
    ],
}
BACKBONES: dict[str, list[Rule]] = {
    'resnet_v1c': [Rule(rf'({_BACKBONE_PARTS})', r'\1'), Rule(r'fc', None)],
}
ARCHS = [*HEADS, *BACKBONES]
BACKBONE_ARCHS = frozenset(BACKBONES)


def rules_for(arch: str) -> list[Rule]:
    """The rules of a segmentor whose decode head is ``arch``, or of the backbone ``arch``.

    Raises:
        KeyError: Unknown ``arch``, naming the accepted ones.
    """
    if arch in BACKBONES:
        return BACKBONES[arch]
    if arch not in HEADS:
        raise KeyError(f'unknown mmseg arch {arch!r}; expected one of {ARCHS}')
    return [_BACKBONE, *HEADS[arch], _AUX]


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts an mmseg ``state_dict`` of ``arch`` (see :func:`rules_for` and :func:`.common.convert_keys`)."""
    return convert_keys(state_dict, rules_for(arch), arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """mmseg ``state_dict`` -> segtools state dict."""
    return convert_with_report(state_dict, arch).state_dict
