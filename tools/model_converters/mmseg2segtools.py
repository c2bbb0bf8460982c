"""Convert MMSegmentation EncNet, PSPNet, DeepLabV3 and FCN checkpoints to segtools.

Usage::

    python tools/model_converters/mmseg2segtools.py encnet_r50-d8_512x512_80k_ade20k.pth encnet.pth \\
        --arch encnet --config configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py

Backbones (``ResNetV1c``/``ResNeSt``: ``backbone.stem.{0..7}``, ``backbone.layer*``) and FCN heads
(``convs.i``, ``conv_cat``, ``conv_seg``; also every ``auxiliary_head``) share segtools' names.
Renamed (mmseg -> segtools):

- psp: ``decode_head.psp_modules.i.1`` (pool, ConvModule) -> ``decode_head.psp.branches.i.conv``.
- deeplabv3: ``decode_head.image_pool.1`` -> ``decode_head.aspp.image_pool.conv``;
  ``decode_head.aspp_modules.i`` -> ``decode_head.aspp.branches.i`` (both concatenate the image
  pooling first, so ``bottleneck`` is unchanged).
- encnet: ``decode_head.lateral_convs.i``/``fusion`` -> ``decode_head.lateral_fuse.{lateral_convs.i,fusion}``;
  ``enc_module.encoding.0`` (Encoding) -> ``enc_module.encoding``; ``enc_module.encoding.1``
  (BatchNorm1d) -> ``enc_module.codes_norm``; ``enc_module.fc.0`` -> ``enc_module.fc``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import torch
from _common import Conversion, Rule, convert_keys, run_cli

_CONV_MODULE = r'(?:conv|bn|gn)'
_BACKBONE = Rule(
    r'(backbone\.(?:stem\.[0-7]|conv1|bn1|layer\d+\.\d+\.'
    r'(?:conv[123]|bn[123]|conv2\.(?:conv|bn0|fc1|bn1|fc2)|downsample\.[0-2])))',
    r'\1',
)
_FCN_PARTS = rf'(?:convs\.\d+|conv_cat)\.{_CONV_MODULE}|conv_seg'
_AUX = Rule(rf'(auxiliary_head\.(?:{_FCN_PARTS}))', r'\1')

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
ARCHS = list(HEADS)


def convert_with_report(state_dict: Mapping[str, torch.Tensor], arch: str) -> Conversion:
    """Converts an mmseg segmentor ``state_dict`` whose decode head is ``arch``."""
    if arch not in HEADS:
        raise KeyError(f'unknown mmseg arch {arch!r}; expected one of {ARCHS}')
    return convert_keys(state_dict, [_BACKBONE, *HEADS[arch], _AUX], arch)


def convert(state_dict: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """mmseg segmentor ``state_dict`` -> segtools segmentor state dict."""
    return convert_with_report(state_dict, arch).state_dict


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        argv,
        description=__doc__.split('\n\n')[0],
        archs=ARCHS,
        convert_fn=convert_with_report,
        backbone_archs=(),
        source='MMSegmentation',
    )


if __name__ == '__main__':
    sys.exit(main())
