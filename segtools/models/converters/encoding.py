"""PyTorch-Encoding checkpoints (backbones and segmentation models) -> segtools keys.

Used by the model store (``convert='encoding:<arch>'``) and ``tools/model_converters/encoding2segtools.py``.
An arch is a backbone (``resnet50s``, ``resnest50`` ...) or ``<model>_<backbone>`` with model
``fcn``, ``psp``, ``encnet`` or ``deeplab``. Key layouts (PyTorch-Encoding -> segtools):

- backbone: deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` -> ``stem.{0,1,3,4,6,7}``; blocks keep their
  names; ResNeSt shortcut ``downsample.{1,2}`` (AvgPool first); ``fc`` dropped. In a segmentation
  model the backbone is ``pretrained.*`` -> ``backbone.*``.
- ``auxlayer.conv5.{0,1,4}`` (FCNHead: conv, norm, ReLU, dropout, classifier) ->
  ``auxiliary_head.convs.0.{conv,bn}``, ``auxiliary_head.conv_seg``.
- fcn: ``head.conv5.{0,1,4}`` -> ``decode_head.convs.0.{conv,bn}``, ``decode_head.conv_seg``
  (``FCNHead(num_convs=1, concat_input=False)``).
- psp: ``head.conv5.0.conv{1..4}.{0,1}`` (pyramid pooling) -> ``decode_head.psp.branches.{0..3}.conv.{conv,bn}``;
  ``head.conv5.{1,2}`` -> ``decode_head.bottleneck``; ``head.conv5.5`` -> ``conv_seg``.
- encnet: ``head.conv5.{0,1}`` -> ``bottleneck``; ``head.connect.i.{0,1}`` and ``head.fusion.{0,1}``
  (lateral) -> ``lateral_fuse.lateral_convs.i`` and ``lateral_fuse.fusion``;
  ``head.encmodule.encoding.{0,1,3,4}`` (conv, norm, ReLU, Encoding, BatchNorm1d) ->
  ``enc_module.{encoding_project.conv, encoding_project.bn, encoding, codes_norm}``;
  ``head.encmodule.fc.0`` -> ``enc_module.fc``; ``head.encmodule.selayer`` -> ``se_layer``;
  ``head.conv6.1`` -> ``conv_seg``.
- deeplab: ``head.aspp.b0``, ``b1..b3`` -> ``aspp.branches.0..3``; ``head.aspp.b4.gap.{1,2}``
  (image pooling) -> ``aspp.image_pool.conv``; ``head.aspp.project.{0,1}`` -> ``project.0``;
  ``head.block.{0,1,4}`` -> ``bottleneck``, ``conv_seg``. PyTorch-Encoding concatenates the image
  pooling branch *last*, segtools *first*, so the projection's input channels are rotated.

Not supported (an error names them): ``wideresnet*``, ``xception65``, ``fcfpn``, ``upernet``,
``atten`` and FCN ``with_global``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .common import Conversion, Rule, backbone_rules, convert_keys, move_last_block_first

_PLAIN = dict(deep_stem=False, avg_down=False, split_attention=False)
_DEEP = dict(deep_stem=True, avg_down=False, split_attention=False)
_V1D = dict(deep_stem=True, avg_down=True, split_attention=False)
_RESNEST = dict(deep_stem=True, avg_down=True, split_attention=True)

BACKBONES: dict[str, dict[str, bool]] = {
    **{name: _PLAIN for name in ('resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'resnext101_32x8d')},
    **{name: _DEEP for name in ('resnet50s', 'resnet101s', 'resnet152s')},
    'resnet50d': _V1D,
    **{name: _RESNEST for name in ('resnest50', 'resnest101', 'resnest200', 'resnest269')},
}


def _conv_bn(src: str, dst: str) -> list[Rule]:
    """``src.0`` (conv) and ``src.1`` (norm) -> ``dst.conv`` and ``dst.bn`` (a ConvModule)."""
    return [Rule(rf'{src}\.0', f'{dst}.conv'), Rule(rf'{src}\.1', f'{dst}.bn')]


_AUX = [*_conv_bn(r'auxlayer\.conv5', 'auxiliary_head.convs.0'), Rule(r'auxlayer\.conv5\.4', 'auxiliary_head.conv_seg')]

HEADS: dict[str, list[Rule]] = {
    'fcn': [*_conv_bn(r'head\.conv5', 'decode_head.convs.0'), Rule(r'head\.conv5\.4', 'decode_head.conv_seg')],
    'psp': [
        Rule(r'head\.conv5\.0\.conv([1-4])\.0', lambda m: f'decode_head.psp.branches.{int(m[1]) - 1}.conv.conv'),
        Rule(r'head\.conv5\.0\.conv([1-4])\.1', lambda m: f'decode_head.psp.branches.{int(m[1]) - 1}.conv.bn'),
        Rule(r'head\.conv5\.1', 'decode_head.bottleneck.conv'),
        Rule(r'head\.conv5\.2', 'decode_head.bottleneck.bn'),
        Rule(r'head\.conv5\.5', 'decode_head.conv_seg'),
    ],
    'encnet': [
        *_conv_bn(r'head\.conv5', 'decode_head.bottleneck'),
        Rule(r'head\.connect\.(\d+)\.0', r'decode_head.lateral_fuse.lateral_convs.\1.conv'),
        Rule(r'head\.connect\.(\d+)\.1', r'decode_head.lateral_fuse.lateral_convs.\1.bn'),
        *_conv_bn(r'head\.fusion', 'decode_head.lateral_fuse.fusion'),
        *_conv_bn(r'head\.encmodule\.encoding', 'decode_head.enc_module.encoding_project'),
        Rule(r'head\.encmodule\.encoding\.3', 'decode_head.enc_module.encoding'),
        Rule(r'head\.encmodule\.encoding\.4', 'decode_head.enc_module.codes_norm'),
        Rule(r'head\.encmodule\.fc\.0', 'decode_head.enc_module.fc'),
        Rule(r'head\.encmodule\.selayer', 'decode_head.se_layer'),
        Rule(r'head\.conv6\.1', 'decode_head.conv_seg'),
    ],
    'deeplab': [
        Rule(r'head\.aspp\.b([0-3])\.0', r'decode_head.aspp.branches.\1.conv'),
        Rule(r'head\.aspp\.b([0-3])\.1', r'decode_head.aspp.branches.\1.bn'),
        Rule(r'head\.aspp\.b4\.gap\.1', 'decode_head.aspp.image_pool.conv.conv'),
        Rule(r'head\.aspp\.b4\.gap\.2', 'decode_head.aspp.image_pool.conv.bn'),
        # [b0, b1, b2, b3, pool] -> [pool, b0, b1, b2, b3]
        Rule(r'head\.aspp\.project\.0', 'decode_head.project.0.conv', transform=move_last_block_first(5)),
        Rule(r'head\.aspp\.project\.1', 'decode_head.project.0.bn'),
        *_conv_bn(r'head\.block', 'decode_head.bottleneck'),
        Rule(r'head\.block\.4', 'decode_head.conv_seg'),
    ],
}


def parse_arch(arch: str) -> tuple[str | None, str]:
    """``'encnet_resnet50s'`` -> ``('encnet', 'resnet50s')``; ``'resnest50'`` -> ``(None, 'resnest50')``.

    Raises:
        KeyError: Unknown model or backbone, naming the accepted ones.
    """
    model, _, backbone = arch.partition('_')
    if model not in HEADS:
        model, backbone = None, arch
    if backbone not in BACKBONES:
        raise KeyError(
            f'unknown PyTorch-Encoding arch {arch!r}: expected a backbone {sorted(BACKBONES)} or '
            f'<model>_<backbone> with model in {sorted(HEADS)}'
        )
    return model, backbone


def rules_for(arch: str) -> list[Rule]:
    """The conversion rules of ``arch`` (see :func:`parse_arch`)."""
    model, backbone = parse_arch(arch)
    if model is None:
        return backbone_rules(**BACKBONES[backbone])
    return [*backbone_rules(**BACKBONES[backbone], prefix='pretrained.'), *HEADS[model], *_AUX]


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts a PyTorch-Encoding ``state_dict`` of ``arch`` (see :func:`.common.convert_keys`)."""
    return convert_keys(state_dict, rules_for(arch), arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """PyTorch-Encoding ``state_dict`` -> segtools state dict (backbone keys, or a whole segmentor)."""
    return convert_with_report(state_dict, arch).state_dict


SOURCE = 'PyTorch-Encoding'
BACKBONE_ARCHS = frozenset(BACKBONES)
ARCHS = [*BACKBONES, *(f'{model}_{backbone}' for model in HEADS for backbone in BACKBONES)]
