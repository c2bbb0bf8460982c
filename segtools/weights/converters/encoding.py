"""PyTorch-Encoding checkpoints (backbones, ImageNet classifiers, segmentation models) -> segtools keys.

Used by the model store (``convert='encoding:<arch>'``) and ``tools/model_converters/encoding2segtools.py``.
An arch is one of:

- a backbone (``resnet50s``, ``resnest50``, ``wideresnet38`` ...): the ImageNet classifier ``fc`` is
  dropped, for a segtools backbone without classifier (``num_classes=0``, segmentation use);
- ``<backbone>:classifier`` (``resnest50:classifier``, ``resnet101s:classifier`` ...; ResNet-family
  backbones only): the ImageNet classifier itself in :class:`ImageClassifier`'s layout, every backbone
  key under ``backbone.`` and ``fc`` -> ``head.fc``, for ``ImageClassifier(backbone=<the backbone>,
  neck=GlobalAveragePooling, head=LinearClsHead(num_classes=1000, in_channels=2048))``. The model
  store's ``*_imagenet`` entries use these; segtools' WideResNet has no classifier, so
  ``wideresnet38/50`` have no ``:classifier`` variant;
- ``deepten_resnet50``: Deep TEN (``deepten_resnet50_minc``) for ``ImageClassifier(backbone=ResNetV1c(
  depth=50, stem_channels=128), head=DeepTENHead(...))``;
- ``<model>_<backbone>`` with model ``fcn``, ``fcn-global`` (FCN ``with_global=True``), ``psp``,
  ``encnet``, ``deeplab``, ``fcfpn``, ``upernet`` (ResNet-family backbones) or ``atten`` (every
  backbone, WideResNet included): a whole segmentation model.

Key layouts (PyTorch-Encoding -> segtools):

- ResNet-family backbone: deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` -> ``stem.{0,1,3,4,6,7}``; blocks
  keep their names; ResNeSt shortcut ``downsample.{1,2}`` (AvgPool first); ``fc`` dropped (``head.fc``
  for ``:classifier``, whose other keys get ``backbone.``). In a segmentation model the backbone is
  ``pretrained.*`` -> ``backbone.*`` (upstream's ``BaseNet`` sets ``pretrained.fc = None``, so it has no ``fc``).
- deepten: ``pretrained.*`` (resnet50s, not dilated) -> ``backbone.*``, its unused ``pretrained.fc``
  dropped; ``head.{0,1,3,6}`` (1x1 conv with bias, BN, ReLU, Encoding, View, Normalize, Linear) ->
  ``head.{conv.conv, conv.bn, encoding, fc}``. The conv bias is folded into the BN, whose input it
  only shifts: ``running_mean - bias`` (exact in eval; in training the batch mean absorbs it).
- WideResNet backbone (``wideresnet38/50``): ``mod1``, ``mod{2..7}.i.{bn1,conv1,...,downsample.0}``
  and ``bn_out`` keep their names (segtools' :class:`WideResNet` mirrors them); ``fc`` dropped.
- ``auxlayer.conv5.{0,1,4}`` (FCNHead: conv, norm, ReLU, dropout, classifier) ->
  ``auxiliary_head.convs.0.{conv,bn}``, ``auxiliary_head.conv_seg``.
- fcn: ``head.conv5.{0,1,4}`` -> ``decode_head.convs.0.{conv,bn}``, ``decode_head.conv_seg``
  (``FCNHead(num_convs=1, concat_input=False)``).
- fcn-global: ``head.conv5.{0,1}`` -> ``convs.0``; the global branch ``head.conv5.3.1.gap.{1,2}``
  -> ``global_pool.conv``; ``head.conv5.5`` -> ``conv_seg`` (``FCNHead(with_global=True)``, channels
  twice PyTorch-Encoding's inter channels; both concatenate ``[feat, pooled]``).
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
- fcfpn: ``head.fpn_lateral.i``/``head.fpn_out.i`` -> ``fpn.lateral_convs.i``/``fpn.fpn_convs.i``;
  ``head.c4conv`` -> ``top_conv``; ``head.conv5.{0,1,4}`` -> ``fpn_bottleneck``, ``conv_seg``.
  PyTorch-Encoding concatenates the levels coarsest first, segtools finest first, so the input
  channels of ``fpn_bottleneck`` are reversed block-wise.
- upernet: as fcfpn, with ``head.extramodule.conv{1..4}`` (pyramid pooling on c4) ->
  ``psp.branches.{0..3}.conv`` and ``head.c4conv`` -> ``bottleneck`` (segtools' :class:`UPerHead`).
  The names map one to one, but PyTorch-Encoding's widths (pooling branches in/4 = 512, c4conv
  and pyramid 256, fused 512) differ from an ``UPerHead`` with one ``channels``: loading into
  today's ``UPerHead`` fails with a shape mismatch naming the keys.
- atten: ``head.conv5.{0,1}`` -> ``conv_in``; lateral as encnet; ``head.atten_layers.0.gap.{1,2}``
  (global pooling) -> ``global_pool.conv``; the ACF module ``head.atten.{conv_qs, conv_vs, conv,
  norm_layer, attention}`` -> ``acf.{conv_qk, conv_v, conv_out, norm, attention}``; the EncModule as
  encnet; ``head.conv6.1`` -> ``conv_seg``. PyTorch-Encoding registers the ACF module twice
  (``head.atten`` and ``head.atten_layers.1``) and its key projection is its query projection
  (``conv_ks`` is ``conv_qs``): those copies are dropped after checking they equal the kept tensors.

Not supported (an error names them and says why): ``xception65`` (PyTorch-Encoding publishes no
weights for it and segtools' Xception65 is not built in its layout). :data:`PENDING` (known layouts
whose segtools target is not written yet; the model store may name them) is empty today.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from .common import (
    Conversion,
    ConversionError,
    Rule,
    backbone_rules,
    convert_keys,
    image_classifier_rules,
    move_last_block_first,
    reverse_blocks,
)

_PLAIN = dict(deep_stem=False, avg_down=False, split_attention=False)
_DEEP = dict(deep_stem=True, avg_down=False, split_attention=False)
_V1D = dict(deep_stem=True, avg_down=True, split_attention=False)
_RESNEST = dict(deep_stem=True, avg_down=True, split_attention=True)

# ResNet-family backbones: the options of :func:`.common.backbone_rules`.
BACKBONES: dict[str, dict[str, bool]] = {
    **{name: _PLAIN for name in ('resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'resnext101_32x8d')},
    **{name: _DEEP for name in ('resnet50s', 'resnet101s', 'resnet152s')},
    'resnet50d': _V1D,
    **{name: _RESNEST for name in ('resnest50', 'resnest101', 'resnest200', 'resnest269')},
}
WIDE_RESNETS = ('wideresnet38', 'wideresnet50')
UNSUPPORTED: dict[str, str] = {
    'xception65': (
        'PyTorch-Encoding publishes no xception65 weights (its pretrained path references an undefined name), '
        "and segtools' Xception65 is not built in PyTorch-Encoding's module layout"
    ),
}
# Archs whose layout is known but whose segtools target is not written yet: arch -> why.
PENDING: dict[str, str] = {}
CLASSIFIER_SUFFIX = ':classifier'
# parse_arch's model for a '<backbone>:classifier' arch.
CLASSIFIER = 'classifier'
# Recognition models: arch -> (parse_arch's model, backbone). Upstream's DeepTen builds resnet50s, not dilated.
DEEPTEN = 'deepten'
RECOGNITION: dict[str, tuple[str, str]] = {'deepten_resnet50': (DEEPTEN, 'resnet50s')}
# DeepTen's head: Sequential(conv 1x1 + bias, BN, ReLU, Encoding, View, Normalize, Linear); the conv's
# bias is folded into the BN (DEEPTEN_CONV, DEEPTEN_NORM).
DEEPTEN_HEAD = [Rule(r'head\.0', 'head.conv.conv'), Rule(r'head\.1', 'head.conv.bn')]
DEEPTEN_HEAD += [Rule(r'head\.3', 'head.encoding'), Rule(r'head\.6', 'head.fc')]
DEEPTEN_CONV, DEEPTEN_NORM = 'head.0', 'head.1'


def wide_resnet_rules(prefix: str = '') -> list[Rule]:
    """Rules of PyTorch-Encoding's ``wideresnet38/50``: names kept, ``fc`` dropped.

    Args:
        prefix: Source prefix of every backbone key (``pretrained.`` in a segmentation model); the
            target prefix is ``backbone.`` when it is set.
    """
    src = re.escape(prefix)
    dst = 'backbone.' if prefix else ''
    return [
        Rule(rf'{src}(mod1|bn_out|mod[2-7]\.\d+\.(?:bn[123]|conv[123]|downsample\.0))', dst + r'\1'),
        Rule(rf'{src}fc', None),
    ]


def _conv_bn(src: str, dst: str) -> list[Rule]:
    """``src.0`` (conv) and ``src.1`` (norm) -> ``dst.conv`` and ``dst.bn`` (a ConvModule)."""
    return [Rule(rf'{src}\.0', f'{dst}.conv'), Rule(rf'{src}\.1', f'{dst}.bn')]


_AUX = [*_conv_bn(r'auxlayer\.conv5', 'auxiliary_head.convs.0'), Rule(r'auxlayer\.conv5\.4', 'auxiliary_head.conv_seg')]
_LATERAL = [
    Rule(r'head\.connect\.(\d+)\.0', r'decode_head.lateral_fuse.lateral_convs.\1.conv'),
    Rule(r'head\.connect\.(\d+)\.1', r'decode_head.lateral_fuse.lateral_convs.\1.bn'),
    *_conv_bn(r'head\.fusion', 'decode_head.lateral_fuse.fusion'),
]
_ENC_MODULE = [
    *_conv_bn(r'head\.encmodule\.encoding', 'decode_head.enc_module.encoding_project'),
    Rule(r'head\.encmodule\.encoding\.3', 'decode_head.enc_module.encoding'),
    Rule(r'head\.encmodule\.encoding\.4', 'decode_head.enc_module.codes_norm'),
    Rule(r'head\.encmodule\.fc\.0', 'decode_head.enc_module.fc'),
    Rule(r'head\.encmodule\.selayer', 'decode_head.se_layer'),
]
# FCFPNHead's pyramid (also UperNet's): laterals on c1..c3, their 3x3 outputs, the fused 3x3 and
# the classifier. The fused conv reads [c4, p3, p2, p1]; segtools concatenates [p1, p2, p3, c4].
_FPN = [
    Rule(r'head\.fpn_lateral\.(\d+)\.0', r'decode_head.fpn.lateral_convs.\1.conv'),
    Rule(r'head\.fpn_lateral\.(\d+)\.1', r'decode_head.fpn.lateral_convs.\1.bn'),
    Rule(r'head\.fpn_out\.(\d+)\.0', r'decode_head.fpn.fpn_convs.\1.conv'),
    Rule(r'head\.fpn_out\.(\d+)\.1', r'decode_head.fpn.fpn_convs.\1.bn'),
    Rule(r'head\.conv5\.0', 'decode_head.fpn_bottleneck.conv', transform=reverse_blocks(4)),
    Rule(r'head\.conv5\.1', 'decode_head.fpn_bottleneck.bn'),
    Rule(r'head\.conv5\.4', 'decode_head.conv_seg'),
]


def _pyramid_pooling(src: str) -> list[Rule]:
    """PyTorch-Encoding's PyramidPooling ``src.conv{1..4}.{0,1}`` -> ``decode_head.psp.branches.{0..3}.conv``."""
    return [
        Rule(rf'{src}\.conv([1-4])\.0', lambda m: f'decode_head.psp.branches.{int(m[1]) - 1}.conv.conv'),
        Rule(rf'{src}\.conv([1-4])\.1', lambda m: f'decode_head.psp.branches.{int(m[1]) - 1}.conv.bn'),
    ]


HEADS: dict[str, list[Rule]] = {
    'fcn': [*_conv_bn(r'head\.conv5', 'decode_head.convs.0'), Rule(r'head\.conv5\.4', 'decode_head.conv_seg')],
    'fcn-global': [
        *_conv_bn(r'head\.conv5', 'decode_head.convs.0'),
        Rule(r'head\.conv5\.3\.1\.gap\.1', 'decode_head.global_pool.conv.conv'),
        Rule(r'head\.conv5\.3\.1\.gap\.2', 'decode_head.global_pool.conv.bn'),
        Rule(r'head\.conv5\.5', 'decode_head.conv_seg'),
    ],
    'psp': [
        *_pyramid_pooling(r'head\.conv5\.0'),
        Rule(r'head\.conv5\.1', 'decode_head.bottleneck.conv'),
        Rule(r'head\.conv5\.2', 'decode_head.bottleneck.bn'),
        Rule(r'head\.conv5\.5', 'decode_head.conv_seg'),
    ],
    'encnet': [
        *_conv_bn(r'head\.conv5', 'decode_head.bottleneck'),
        *_LATERAL,
        *_ENC_MODULE,
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
    'fcfpn': [*_conv_bn(r'head\.c4conv', 'decode_head.top_conv'), *_FPN],
    'upernet': [*_pyramid_pooling(r'head\.extramodule'), *_conv_bn(r'head\.c4conv', 'decode_head.bottleneck'), *_FPN],
    'atten': [
        *_conv_bn(r'head\.conv5', 'decode_head.conv_in'),
        *_LATERAL,
        Rule(r'head\.atten_layers\.0\.gap\.1', 'decode_head.global_pool.conv.conv'),
        Rule(r'head\.atten_layers\.0\.gap\.2', 'decode_head.global_pool.conv.bn'),
        # Second registrations of one module (checked equal by _check_aliases).
        Rule(r'head\.atten_layers\.1(\..*)?', None),
        Rule(r'head\.atten\.conv_ks(\..*)?', None),
        Rule(r'head\.atten\.conv_qs', 'decode_head.acf.conv_qk'),
        # kq_transform 'ffn'/'dffn': conv, norm, ReLU, 1x1 conv.
        *_conv_bn(r'head\.atten\.conv_qs', 'decode_head.acf.conv_qk.0'),
        Rule(r'head\.atten\.conv_qs\.3', 'decode_head.acf.conv_qk.1'),
        Rule(r'head\.atten\.conv_vs', 'decode_head.acf.conv_v'),
        Rule(r'head\.atten\.conv', 'decode_head.acf.conv_out'),
        Rule(r'head\.atten\.norm_layer', 'decode_head.acf.norm'),
        Rule(r'head\.atten\.attention', 'decode_head.acf.attention'),
        *_ENC_MODULE,
        Rule(r'head\.conv6\.1', 'decode_head.conv_seg'),
    ],
}
# Source key prefixes that are second names of another key's tensor: (pattern, canonical).
_ALIASES = ((r'head\.atten_layers\.1\.', 'head.atten.'), (r'\.conv_ks\.', '.conv_qs.'))
# Heads whose PyTorch-Encoding input width is fixed at 2048 (ResNet c4): only ATTEN reads 4096.
_WIDE_RESNET_HEADS = ('atten',)


def parse_arch(arch: str) -> tuple[str | None, str]:
    """``'encnet_resnet50s'`` -> ``('encnet', 'resnet50s')``; ``'resnest50'`` -> ``(None, 'resnest50')``;
    ``'resnest50:classifier'`` -> ``('classifier', 'resnest50')``; ``'deepten_resnet50'`` ->
    ``('deepten', 'resnet50s')``.

    Raises:
        KeyError: Unknown, unsupported or pending model or backbone, naming the accepted ones (and
            why an unsupported or pending one is).
    """
    if arch in PENDING:
        raise KeyError(f'PyTorch-Encoding arch {arch!r} is not converted yet: {PENDING[arch]}')
    if arch in RECOGNITION:
        return RECOGNITION[arch]
    if arch.endswith(CLASSIFIER_SUFFIX):
        backbone = arch.removesuffix(CLASSIFIER_SUFFIX)
        if backbone not in BACKBONES:
            raise KeyError(
                f'PyTorch-Encoding arch {arch!r}: classifier variants exist for the ResNet-family backbones '
                f"{sorted(BACKBONES)}; segtools' WideResNet has no classifier"
            )
        return CLASSIFIER, backbone
    model, _, backbone = arch.partition('_')
    if model not in HEADS:
        model, backbone = None, arch
    if backbone in UNSUPPORTED:
        raise KeyError(f'PyTorch-Encoding arch {arch!r} is not supported: {UNSUPPORTED[backbone]}')
    if backbone in WIDE_RESNETS and model not in (None, *_WIDE_RESNET_HEADS):
        raise KeyError(
            f'PyTorch-Encoding arch {arch!r}: {backbone} (4096-channel output) is only used by {_WIDE_RESNET_HEADS}; '
            f'the {model} head reads a 2048-channel c4'
        )
    if backbone not in BACKBONES and backbone not in WIDE_RESNETS:
        raise KeyError(
            f'unknown PyTorch-Encoding arch {arch!r}: expected a backbone {sorted([*BACKBONES, *WIDE_RESNETS])} or '
            f'<model>_<backbone> with model in {sorted(HEADS)}'
        )
    return model, backbone


def _backbone(backbone: str, prefix: str = '') -> list[Rule]:
    if backbone in WIDE_RESNETS:
        return wide_resnet_rules(prefix)
    return backbone_rules(**BACKBONES[backbone], prefix=prefix)


def classifier_rules(backbone: str) -> list[Rule]:
    """Rules of a ResNet-family ImageNet classifier -> :class:`ImageClassifier` keys.

    ``fc`` -> ``head.fc`` (``LinearClsHead``, after ``GlobalAveragePooling``, as upstream pools then
    applies ``fc``); every other key as the backbone arch, under ``backbone.``.
    """
    return image_classifier_rules(backbone_rules(**BACKBONES[backbone]))


def rules_for(arch: str) -> list[Rule]:
    """The conversion rules of ``arch`` (see :func:`parse_arch`)."""
    model, backbone = parse_arch(arch)
    if model is None:
        return _backbone(backbone)
    if model == CLASSIFIER:
        return classifier_rules(backbone)
    if model == DEEPTEN:
        return [*_backbone(backbone, prefix='pretrained.'), *DEEPTEN_HEAD]
    return [*_backbone(backbone, prefix='pretrained.'), *HEADS[model], *_AUX]


def fold_conv_bias(
    state_dict: Mapping[str, torch.Tensor], conv: str, norm: str, arch: str
) -> tuple[dict[str, torch.Tensor], str | None]:
    """Folds the bias of the conv ``conv`` (``head.0``) into the running mean of the batch norm ``norm`` after it.

    ``BN(Wx + b)`` with running mean ``m`` is ``BN(Wx)`` with running mean ``m - b``; in training the
    batch mean absorbs ``b``. For a segtools ``ConvModule``, whose conv has no bias before a norm.

    Returns:
        ``(a copy of state_dict without {conv}.bias, with {norm}.running_mean folded; the folded key,
        None when the conv has no bias)``.

    Raises:
        ConversionError: The norm's running mean is absent or its shape differs from the bias'.
    """
    bias_key, mean_key = f'{conv}.bias', f'{norm}.running_mean'
    folded = dict(state_dict)
    bias = folded.pop(bias_key, None)
    if bias is None:
        return folded, None
    mean = folded.get(mean_key)
    if mean is None or mean.shape != bias.shape:
        found = 'absent' if mean is None else f'of shape {tuple(mean.shape)}'
        raise ConversionError(
            f'{arch}: cannot fold {bias_key!r} {tuple(bias.shape)} into {mean_key!r}, which is {found}'
        )
    folded[mean_key] = mean - bias.to(mean.dtype)
    return folded, bias_key


def _check_aliases(state_dict: Mapping[str, torch.Tensor], dropped: list[str], arch: str) -> None:
    """Every dropped second name (:data:`_ALIASES`) holds the same tensor as its canonical key.

    Raises:
        ConversionError: The canonical key is absent or holds another value.
    """
    for key in dropped:
        canonical = key
        for pattern, replacement in _ALIASES:
            canonical = re.sub(pattern, replacement, canonical)
        if canonical == key:
            continue
        if canonical not in state_dict:
            raise ConversionError(f'{arch}: {key!r} is a second name of {canonical!r}, which the checkpoint lacks')
        kept, copy = state_dict[canonical], state_dict[key]
        if copy is not kept and not torch.equal(kept, copy):
            raise ConversionError(f'{arch}: {key!r} should be the same tensor as {canonical!r} but differs from it')


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts a PyTorch-Encoding ``state_dict`` of ``arch`` (see :func:`.common.convert_keys`).

    Raises:
        KeyError: Unknown or unsupported ``arch``.
        ConversionError: A key no rule matches, or a dropped second name of a shared module
            (ATTEN's ACF) that differs from the kept one.
    """
    rules = rules_for(arch)
    folded = None
    if parse_arch(arch)[0] == DEEPTEN:
        state_dict, folded = fold_conv_bias(state_dict, DEEPTEN_CONV, DEEPTEN_NORM, arch)
    result = convert_keys(state_dict, rules, arch)
    if folded is not None:
        result.renamed[folded] = result.renamed[f'{DEEPTEN_NORM}.running_mean']
    _check_aliases(state_dict, result.dropped, arch)
    return result


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """PyTorch-Encoding ``state_dict`` -> segtools state dict (backbone keys, or a whole classifier or segmentor)."""
    return convert_with_report(state_dict, arch).state_dict


SOURCE = 'PyTorch-Encoding'
CLASSIFIER_ARCHS = frozenset(f'{name}{CLASSIFIER_SUFFIX}' for name in BACKBONES)
# Keys without a ``backbone.`` prefix: the backbones (a classifier is a whole ImageClassifier).
BACKBONE_ARCHS = frozenset([*BACKBONES, *WIDE_RESNETS])
ARCHS = [
    *BACKBONES,
    *WIDE_RESNETS,
    *(f'{name}{CLASSIFIER_SUFFIX}' for name in BACKBONES),
    *RECOGNITION,
    *(f'{model}_{backbone}' for model in HEADS for backbone in BACKBONES),
    *(f'{model}_{backbone}' for model in _WIDE_RESNET_HEADS for backbone in WIDE_RESNETS),
]
