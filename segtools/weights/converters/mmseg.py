"""MMSegmentation / OpenMMLab checkpoints -> segtools keys.

Used by the model store (``convert='mmseg:<arch>'``), ``tools/model_converters/mmseg2segtools.py``
and on load: ``tools/test.py``/``tools/train.py`` and :func:`segtools.apis.init_model` convert a
checkpoint in mmseg's layout by the arch of the model (:func:`arch_for_model`).

Segmentors: arch = the decode head (``fcn``, ``psp``, ``deeplabv3``, ``deeplabv3plus``, ``encnet``,
``upernet``, ``danet``), prefixed by ``jpu_`` for FastFCN's JPU neck (``jpu_psp``, ``jpu_encnet``,
``jpu_deeplabv3``: mmseg's ``fastfcn_*_jpu_{psp,enc,aspp}``). Backbones (``ResNetV1c``,
``ResNet``: ``backbone.stem.{0..7}`` or ``conv1``/``bn1``, ``backbone.layer*``; ``ResNeSt`` too, its
split-attention ``conv2.{conv,bn0,fc1,bn1,fc2}`` included) and FCN heads (``convs.i``,
``conv_cat``, ``conv_seg``; also the ``auxiliary_head``, or each ``auxiliary_head.i`` of a list of
them) share segtools' names. Renamed (mmseg -> segtools):

- psp: ``decode_head.psp_modules.i.1`` (pool, ConvModule) -> ``decode_head.psp.branches.i.conv``.
- deeplabv3: ``decode_head.image_pool.1`` -> ``decode_head.aspp.image_pool.conv``;
  ``decode_head.aspp_modules.i`` -> ``decode_head.aspp.branches.i`` (both concatenate the image
  pooling first, so ``bottleneck`` is unchanged).
- deeplabv3plus (``DepthwiseSeparableASPPHead``): as deeplabv3, the separable branches
  ``aspp_modules.i.{depthwise,pointwise}_conv`` included; ``c1_bottleneck`` and
  ``sep_bottleneck.{0,1}`` keep their names.
- encnet: ``decode_head.lateral_convs.i``/``fusion`` (``add_lateral=True``) ->
  ``decode_head.lateral_fuse.{lateral_convs.i,fusion}``;
  ``enc_module.encoding.0`` (Encoding) -> ``enc_module.encoding``; ``enc_module.encoding.1``
  (BatchNorm1d) -> ``enc_module.codes_norm``; ``enc_module.fc.0`` -> ``enc_module.fc``.
- upernet: ``psp_modules.i.1`` as psp; ``lateral_convs.i``/``fpn_convs.i`` ->
  ``fpn.{lateral_convs,fpn_convs}.i`` (both concatenate the levels finest first, the pooled top last,
  so ``fpn_bottleneck`` is unchanged).
- danet: the position attention's ``pam.{query,key,value}_project`` -> ``pam.{query,key,value}_conv``;
  mmcv ``Scale`` modules ``pam.gamma.scale``/``cam.gamma.scale`` (0-d) -> the parameters ``pam.gamma``/
  ``cam.gamma`` (shape ``(1,)``).
- jpu_* (neck ``JPU``): ``neck.conv_layers.i.0`` -> ``neck.level_convs.i``;
  ``neck.dilation_layers.i.0`` -> ``neck.dilation_convs.i`` (levels concatenated finest first, as
  segtools' JPU does when built from an mmseg config: ``mid_channels``/``start_level``).

Backbones (arch ``resnet_v1c``): OpenMMLab's ImageNet ``resnet{18,50,101}_v1c`` files (mmseg's
``open-mmlab://resnet50_v1c``) hold ``stem.{0..7}`` and ``layer*`` under segtools' names, no
``backbone.`` prefix; their classifier ``fc`` (if any) is dropped. The rule still checks every key,
so a file of another layout is refused, naming its keys.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .common import Conversion, ConversionError, Rule, convert_keys

SOURCE = 'MMSegmentation'
# The command line of the same conversion, for messages.
CLI = 'tools/model_converters/mmseg2segtools.py'
_CONV_MODULE = r'(?:conv|bn|gn)'
# mmcv's DepthwiseSeparableConvModule: two ConvModules.
_SEP_CONV_MODULE = rf'(?:depthwise_conv|pointwise_conv)\.{_CONV_MODULE}'
_BACKBONE_PARTS = (
    r'(?:stem\.[0-7]|conv1|bn1|layer\d+\.\d+\.(?:conv[123]|bn[123]|conv2\.(?:conv|bn0|fc1|bn1|fc2)|downsample\.[0-2]))'
)
_BACKBONE = Rule(rf'(backbone\.{_BACKBONE_PARTS})', r'\1')
_FCN_PARTS = rf'(?:convs\.\d+|conv_cat)\.{_CONV_MODULE}|conv_seg'
# One FCN auxiliary head, or a list of them (``auxiliary_head.i.*``, mmseg's ModuleList).
_AUX = Rule(rf'(auxiliary_head\.(?:\d+\.)?(?:{_FCN_PARTS}))', r'\1')
# mmseg's PPM: ``psp_modules.i`` is (AdaptiveAvgPool2d, ConvModule).
_PPM = Rule(rf'decode_head\.psp_modules\.(\d+)\.1\.({_CONV_MODULE})', r'decode_head.psp.branches.\1.conv.\2')


def _scalar_to_vector(tensor: torch.Tensor) -> torch.Tensor:
    """mmcv's ``Scale`` holds a 0-d parameter; segtools' ``gamma`` has shape ``(1,)``."""
    return tensor.reshape(1)


def _aspp(branch: str) -> list[Rule]:
    """mmseg's ASPP: ``image_pool.1`` (pool, ConvModule) and ``aspp_modules.i`` (modules matching ``branch``)."""
    return [
        Rule(rf'decode_head\.image_pool\.1\.({_CONV_MODULE})', r'decode_head.aspp.image_pool.conv.\1'),
        Rule(rf'decode_head\.aspp_modules\.(\d+)\.({branch})', r'decode_head.aspp.branches.\1.\2'),
    ]


def _kept(*parts: str) -> Rule:
    """Decode-head modules whose names segtools shares."""
    return Rule(rf'(decode_head\.(?:{"|".join(parts)}))', r'\1')


HEADS: dict[str, list[Rule]] = {
    'fcn': [_kept(_FCN_PARTS)],
    'psp': [_PPM, _kept(rf'bottleneck\.{_CONV_MODULE}', 'conv_seg')],
    'deeplabv3': [*_aspp(_CONV_MODULE), _kept(rf'bottleneck\.{_CONV_MODULE}', 'conv_seg')],
    'deeplabv3plus': [
        *_aspp(f'{_CONV_MODULE}|{_SEP_CONV_MODULE}'),
        _kept(
            rf'(?:bottleneck|c1_bottleneck)\.{_CONV_MODULE}', rf'sep_bottleneck\.\d+\.{_SEP_CONV_MODULE}', 'conv_seg'
        ),
    ],
    'encnet': [
        Rule(rf'decode_head\.lateral_convs\.(\d+)\.({_CONV_MODULE})', r'decode_head.lateral_fuse.lateral_convs.\1.\2'),
        Rule(rf'decode_head\.fusion\.({_CONV_MODULE})', r'decode_head.lateral_fuse.fusion.\1'),
        Rule(r'decode_head\.enc_module\.encoding\.0', 'decode_head.enc_module.encoding'),
        Rule(r'decode_head\.enc_module\.encoding\.1', 'decode_head.enc_module.codes_norm'),
        Rule(r'decode_head\.enc_module\.fc\.0', 'decode_head.enc_module.fc'),
        _kept(rf'bottleneck\.{_CONV_MODULE}', rf'enc_module\.encoding_project\.{_CONV_MODULE}', 'se_layer', 'conv_seg'),
    ],
    'upernet': [
        _PPM,
        Rule(rf'decode_head\.(lateral_convs|fpn_convs)\.(\d+)\.({_CONV_MODULE})', r'decode_head.fpn.\1.\2.\3'),
        _kept(rf'(?:bottleneck|fpn_bottleneck)\.{_CONV_MODULE}', 'conv_seg'),
    ],
    'danet': [
        Rule(r'decode_head\.pam\.(query|key|value)_project', r'decode_head.pam.\1_conv'),
        Rule(
            r'decode_head\.(pam|cam)\.gamma',
            r'decode_head.\1',
            transform=_scalar_to_vector,
            transform_leaf='scale',
            leaf='gamma',
        ),
        _kept(rf'(?:pam|cam)_(?:in|out)_conv\.{_CONV_MODULE}', 'pam_conv_seg', 'cam_conv_seg', 'conv_seg'),
    ],
}
NECKS: dict[str, list[Rule]] = {
    'jpu': [
        Rule(rf'neck\.conv_layers\.(\d+)\.0\.({_CONV_MODULE})', r'neck.level_convs.\1.\2'),
        Rule(rf'neck\.dilation_layers\.(\d+)\.0\.({_SEP_CONV_MODULE})', r'neck.dilation_convs.\1.\2'),
    ],
}
BACKBONES: dict[str, list[Rule]] = {
    'resnet_v1c': [Rule(rf'({_BACKBONE_PARTS})', r'\1'), Rule(r'fc', None)],
}
# The heads mmseg's configs put on each neck (FastFCN: ``fastfcn_*_jpu_{psp,enc,aspp}``).
NECK_HEADS: dict[str, tuple[str, ...]] = {'jpu': ('psp', 'encnet', 'deeplabv3')}
ARCHS = [*HEADS, *(f'{neck}_{head}' for neck, heads in NECK_HEADS.items() for head in heads), *BACKBONES]
BACKBONE_ARCHS = frozenset(BACKBONES)
# The arch of a segtools model by the class names of its decode head and neck (see arch_for_model).
HEAD_TYPES: dict[str, str] = {
    'FCNHead': 'fcn',
    'PSPHead': 'psp',
    'ASPPHead': 'deeplabv3',
    'DepthwiseSeparableASPPHead': 'deeplabv3plus',
    'EncHead': 'encnet',
    'UPerHead': 'upernet',
    'DAHead': 'danet',
}
NECK_TYPES: dict[str, str] = {'JPU': 'jpu'}


def rules_for(arch: str) -> list[Rule]:
    """The rules of a segmentor ``[<neck>_]<head>`` (see the module docstring), or of the backbone ``arch``.

    Raises:
        KeyError: Unknown ``arch``, naming the accepted ones.
    """
    if arch not in ARCHS:
        raise KeyError(f'unknown mmseg arch {arch!r}; expected one of {ARCHS}')
    if arch in BACKBONES:
        return BACKBONES[arch]
    neck, head = (None, arch) if arch in HEADS else arch.split('_', 1)
    return [_BACKBONE, *(NECKS[neck] if neck else ()), *HEADS[head], _AUX]


def arch_for_model(model: torch.nn.Module) -> str | None:
    """The arch whose mmseg checkpoints fit ``model``, by its decode head and neck classes.

    Args:
        model: A segtools segmentor (``EncoderDecoder``); only the class names of its
            ``decode_head`` and ``neck`` are read, so nothing here imports the model classes.

    Returns:
        ``'<head>'`` or ``'<neck>_<head>'`` (e.g. ``'psp'``, ``'jpu_psp'``), or ``None`` when no arch
        of :data:`ARCHS` has the model's head and neck (or it has no decode head).
    """
    head = HEAD_TYPES.get(type(getattr(model, 'decode_head', None)).__name__)
    neck_module = getattr(model, 'neck', None)
    if head is None or neck_module is None:
        return head
    neck = NECK_TYPES.get(type(neck_module).__name__)
    return f'{neck}_{head}' if f'{neck}_{head}' in ARCHS and neck is not None else None


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts an mmseg ``state_dict`` of ``arch`` (see :func:`rules_for` and :func:`.common.convert_keys`)."""
    return convert_keys(state_dict, rules_for(arch), arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """mmseg ``state_dict`` -> segtools state dict."""
    return convert_with_report(state_dict, arch).state_dict


def convert_for_model(state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module) -> tuple[str, Conversion] | None:
    """``state_dict`` read as an mmseg checkpoint of ``model``'s arch (:func:`arch_for_model`).

    Returns:
        ``(arch, conversion)``, or ``None`` when mmseg's layout of the model is unknown or a key of
        ``state_dict`` matches no rule of the arch (a checkpoint of another layout). Whether the
        converted weights fit the model is the caller's check.
    """
    arch = arch_for_model(model)
    if arch is None:
        return None
    try:
        return arch, convert_with_report(state_dict, arch)
    except ConversionError:
        return None
