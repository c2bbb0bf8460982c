"""MMSegmentation 1.x decode heads and necks for the converter tests (mmseg is not installed in CI).

Written from mmseg 1.2.2's ``decode_heads/{psp,aspp,sep_aspp,enc,uper,da}_head.py``, ``necks/jpu.py``,
``utils/self_attention_block.py`` and mmcv's ``ConvModule``, ``DepthwiseSeparableConvModule`` and
``Scale``:

- key lists (name -> shape, in mmseg's registration order): every function takes the arguments of
  the mmseg config dict it mirrors, with a BN norm, and returns ``{key: shape}`` under ``prefix``.
  mmseg's ``BaseDecodeHead`` registers ``conv_seg`` before the head's own modules, so it comes first;
- :data:`SMALL_MODELS`: one small mmseg config dict per segmentor arch of
  :mod:`segtools.weights.converters.mmseg` and :func:`mmseg_state`, random weights in its layout;
- :class:`MMSegPAM` and :class:`MMSegJPU`: faithful reimplementations (mmseg's module names and
  forward) of the two modules whose conversion could get the meaning wrong with the right shapes
  (query vs key projection; the order of the levels the JPU concatenates).
"""

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule, Scale
from torch import nn

from ._source_models import bn_keys, conv_keys, fake_state, linear_keys


def conv_module(name: str, c_out: int, c_in: int, k: int, groups: int = 1) -> dict:
    """mmcv ``ConvModule`` with a norm: ``conv`` (no bias), ``bn``."""
    return conv_keys(f'{name}.conv', c_out, c_in // groups, k) | bn_keys(f'{name}.bn', c_out)


def separable_conv_module(name: str, c_out: int, c_in: int) -> dict:
    """mmcv ``DepthwiseSeparableConvModule`` (3x3 depthwise, 1x1 pointwise, both normalised)."""
    return conv_module(f'{name}.depthwise_conv', c_in, c_in, 3, groups=c_in) | conv_module(
        f'{name}.pointwise_conv', c_out, c_in, 1
    )


def _conv_seg(prefix: str, num_classes: int, channels: int) -> dict:
    return conv_keys(f'{prefix}.conv_seg', num_classes, channels, bias=True)


def _ppm(prefix: str, in_channels: int, channels: int, pool_scales: Sequence[int]) -> dict:
    """``PPM``: ``psp_modules.i`` = (AdaptiveAvgPool2d, ConvModule 1x1)."""
    keys = {}
    for i in range(len(pool_scales)):
        keys |= conv_module(f'{prefix}.psp_modules.{i}.1', channels, in_channels, 1)
    return keys


def psp_head(prefix, *, in_channels, channels, num_classes, pool_scales=(1, 2, 3, 6), **_):
    keys = _conv_seg(prefix, num_classes, channels) | _ppm(prefix, in_channels, channels, pool_scales)
    return keys | conv_module(f'{prefix}.bottleneck', channels, in_channels + len(pool_scales) * channels, 3)


def _aspp(prefix, in_channels, channels, dilations, separable):
    keys = conv_module(f'{prefix}.image_pool.1', channels, in_channels, 1)
    for i, dilation in enumerate(dilations):
        if dilation == 1:
            keys |= conv_module(f'{prefix}.aspp_modules.{i}', channels, in_channels, 1)
        elif separable:
            keys |= separable_conv_module(f'{prefix}.aspp_modules.{i}', channels, in_channels)
        else:
            keys |= conv_module(f'{prefix}.aspp_modules.{i}', channels, in_channels, 3)
    return keys | conv_module(f'{prefix}.bottleneck', channels, (len(dilations) + 1) * channels, 3)


def aspp_head(prefix, *, in_channels, channels, num_classes, dilations=(1, 6, 12, 18), **_):
    return _conv_seg(prefix, num_classes, channels) | _aspp(prefix, in_channels, channels, dilations, False)


def sep_aspp_head(prefix, *, in_channels, channels, num_classes, c1_in_channels, c1_channels, dilations, **_):
    keys = _conv_seg(prefix, num_classes, channels) | _aspp(prefix, in_channels, channels, dilations, True)
    keys |= conv_module(f'{prefix}.c1_bottleneck', c1_channels, c1_in_channels, 1)
    keys |= separable_conv_module(f'{prefix}.sep_bottleneck.0', channels, channels + c1_channels)
    return keys | separable_conv_module(f'{prefix}.sep_bottleneck.1', channels, channels)


def enc_head(prefix, *, in_channels, channels, num_classes, num_codes=32, add_lateral=False, **_):
    keys = _conv_seg(prefix, num_classes, channels) | conv_module(f'{prefix}.bottleneck', channels, in_channels[-1], 3)
    if add_lateral:
        for i, c_in in enumerate(in_channels[:-1]):
            keys |= conv_module(f'{prefix}.lateral_convs.{i}', channels, c_in, 1)
        keys |= conv_module(f'{prefix}.fusion', channels, len(in_channels) * channels, 3)
    keys |= conv_module(f'{prefix}.enc_module.encoding_project', channels, channels, 1)
    keys |= {f'{prefix}.enc_module.encoding.0.codewords': (num_codes, channels)}
    keys |= {f'{prefix}.enc_module.encoding.0.scale': (num_codes,)}
    keys |= bn_keys(f'{prefix}.enc_module.encoding.1', num_codes)
    keys |= linear_keys(f'{prefix}.enc_module.fc.0', channels, channels)
    return keys | linear_keys(f'{prefix}.se_layer', num_classes, channels)


def uper_head(prefix, *, in_channels, channels, num_classes, pool_scales=(1, 2, 3, 6), **_):
    keys = _conv_seg(prefix, num_classes, channels) | _ppm(prefix, in_channels[-1], channels, pool_scales)
    keys |= conv_module(f'{prefix}.bottleneck', channels, in_channels[-1] + len(pool_scales) * channels, 3)
    for i, c_in in enumerate(in_channels[:-1]):
        keys |= conv_module(f'{prefix}.lateral_convs.{i}', channels, c_in, 1)
    for i in range(len(in_channels) - 1):
        keys |= conv_module(f'{prefix}.fpn_convs.{i}', channels, channels, 3)
    return keys | conv_module(f'{prefix}.fpn_bottleneck', channels, len(in_channels) * channels, 3)


def da_head(prefix, *, in_channels, channels, num_classes, pam_channels, **_):
    """DAHead; its PAM is a ``SelfAttentionBlock`` (plain 1x1 ``key/query/value_project``) + ``Scale``."""
    keys = _conv_seg(prefix, num_classes, channels) | conv_module(f'{prefix}.pam_in_conv', channels, in_channels, 3)
    for name, c_out in (('key', pam_channels), ('query', pam_channels), ('value', channels)):
        keys |= conv_keys(f'{prefix}.pam.{name}_project', c_out, channels, bias=True)
    keys |= {f'{prefix}.pam.gamma.scale': ()}
    keys |= conv_module(f'{prefix}.pam_out_conv', channels, channels, 3)
    keys |= conv_keys(f'{prefix}.pam_conv_seg', num_classes, channels, bias=True)
    keys |= conv_module(f'{prefix}.cam_in_conv', channels, in_channels, 3)
    keys |= {f'{prefix}.cam.gamma.scale': ()}
    keys |= conv_module(f'{prefix}.cam_out_conv', channels, channels, 3)
    return keys | conv_keys(f'{prefix}.cam_conv_seg', num_classes, channels, bias=True)


def fcn_head(prefix, *, in_channels, channels, num_classes, num_convs=2, concat_input=True, **_):
    keys = _conv_seg(prefix, num_classes, channels)
    for i in range(num_convs):
        keys |= conv_module(f'{prefix}.convs.{i}', channels, in_channels if i == 0 else channels, 3)
    if concat_input:
        keys |= conv_module(f'{prefix}.conv_cat', channels, in_channels + channels, 3)
    return keys


def jpu(prefix, *, in_channels, mid_channels, start_level=0, end_level=-1, dilations=(1, 2, 4, 8), **_):
    """JPU: ``conv_layers.i`` = (ConvModule 3x3,), ``dilation_layers.i`` = (separable 3x3,)."""
    end = len(in_channels) if end_level == -1 else end_level
    keys = {}
    for i, level in enumerate(range(start_level, end)):
        keys |= conv_module(f'{prefix}.conv_layers.{i}.0', mid_channels, in_channels[level], 3)
    fused = (end - start_level) * mid_channels
    for i in range(len(dilations)):
        keys |= separable_conv_module(f'{prefix}.dilation_layers.{i}.0', mid_channels, fused)
    return keys


HEADS = {
    'FCNHead': fcn_head,
    'PSPHead': psp_head,
    'ASPPHead': aspp_head,
    'DepthwiseSeparableASPPHead': sep_aspp_head,
    'EncHead': enc_head,
    'UPerHead': uper_head,
    'DAHead': da_head,
}


def segmentor_keys(model: dict, backbone_keys: dict) -> dict:
    """mmseg keys of an ``EncoderDecoder`` config dict: the backbone's (shared with segtools, given),
    the neck (JPU), the decode head and the auxiliary head(s)."""
    keys = {f'backbone.{k}': shape for k, shape in backbone_keys.items()}
    if model.get('neck'):
        assert model['neck']['type'] == 'JPU'
        keys |= jpu('neck', **model['neck'])
    head = model['decode_head']
    keys |= HEADS[head['type']]('decode_head', **head)
    aux = model.get('auxiliary_head')
    if isinstance(aux, dict):
        keys |= HEADS[aux['type']]('auxiliary_head', **aux)
    for i, head in enumerate(aux if isinstance(aux, list) else ()):
        keys |= HEADS[head['type']](f'auxiliary_head.{i}', **head)
    return keys


# --- Small segmentors of every arch: mmseg config dicts on a ResNetV1c-18 of base width 8 ------------
BN = dict(type='BN', requires_grad=True)
HEAD = dict(num_classes=5, norm_cfg=BN, align_corners=False, dropout_ratio=0.1)
R18 = dict(type='ResNetV1c', depth=18, stem_channels=16, base_channels=8, norm_cfg=BN, contract_dilation=True)
R18_D8 = dict(R18, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), out_indices=(0, 1, 2, 3))  # (8, 16, 32, 64)
R18_D32 = dict(R18, dilations=(1, 1, 2, 4), strides=(1, 2, 2, 2), out_indices=(1, 2, 3))  # FastFCN's
JPU = dict(type='JPU', in_channels=(16, 32, 64), mid_channels=16, start_level=0, end_level=-1, dilations=(1, 2, 4, 8))
AUX = dict(type='FCNHead', in_channels=32, in_index=2, channels=8, num_convs=1, concat_input=False, **HEAD)
PSP = dict(type='PSPHead', in_channels=64, in_index=3, channels=16, pool_scales=(1, 2, 3, 6), **HEAD)
ASPP = dict(type='ASPPHead', in_channels=64, in_index=3, channels=16, dilations=(1, 12, 24, 36), **HEAD)
ENC = dict(type='EncHead', in_channels=[16, 32, 64], in_index=(1, 2, 3), channels=16, num_codes=8, **HEAD)
ENC |= dict(use_se_loss=True, add_lateral=False)
# The mmseg config dict of each arch (their _base_/models files, narrower).
SMALL_MODELS = {
    'fcn': dict(decode_head=dict(type='FCNHead', in_channels=64, in_index=3, channels=16, **HEAD)),
    'psp': dict(decode_head=PSP),
    'deeplabv3': dict(decode_head=ASPP),
    'deeplabv3plus': dict(
        decode_head=dict(ASPP, type='DepthwiseSeparableASPPHead', c1_in_channels=8, c1_channels=4),
    ),
    'encnet': dict(decode_head=dict(ENC, add_lateral=True)),
    'upernet': dict(
        decode_head=dict(type='UPerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16, **HEAD)
    ),
    'danet': dict(decode_head=dict(type='DAHead', in_channels=64, in_index=3, channels=16, pam_channels=4, **HEAD)),
    'jpu_psp': dict(neck=JPU, decode_head=dict(PSP, in_index=2)),
    'jpu_encnet': dict(neck=JPU, decode_head=dict(ENC, in_index=(0, 1, 2))),
    'jpu_deeplabv3': dict(neck=JPU, decode_head=dict(ASPP, in_index=2)),
}


def small_model_cfg(arch: str) -> dict:
    """The ``EncoderDecoder`` dict of ``arch`` with an FCN auxiliary head (a fresh copy)."""
    cfg = dict(type='EncoderDecoder', backbone=R18_D32 if 'neck' in SMALL_MODELS[arch] else R18_D8)
    aux = dict(AUX, in_index=1) if 'neck' in SMALL_MODELS[arch] else AUX
    return copy.deepcopy(cfg | dict(auxiliary_head=aux) | SMALL_MODELS[arch])


def mmseg_state(arch: str, model_state: dict) -> dict:
    """Random tensors in mmseg's layout of ``small_model_cfg(arch)``, in mmseg's order.

    The backbone's keys are taken from ``model_state``: mmseg's ResNet, ResNetV1c and ResNeSt name
    theirs as segtools does (test_mmseg.py checks ResNetV1c-50 against its own key list).
    """
    backbone = {k[len('backbone.') :]: tuple(v.shape) for k, v in model_state.items() if k.startswith('backbone.')}
    return fake_state(segmentor_keys(small_model_cfg(arch), backbone))


class MMSegPAM(nn.Module):
    """mmseg's DANet position attention: a ``SelfAttentionBlock`` of plain 1x1 projections, then
    ``gamma(context) + x`` (``matmul_norm=False``, no output projection)."""

    def __init__(self, channels: int, key_channels: int) -> None:
        super().__init__()
        self.key_project = nn.Conv2d(channels, key_channels, 1)
        self.query_project = nn.Conv2d(channels, key_channels, 1)
        self.value_project = nn.Conv2d(channels, channels, 1)
        self.gamma = Scale(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query = self.query_project(x).flatten(2).permute(0, 2, 1)
        key = self.key_project(x).flatten(2)
        value = self.value_project(x).flatten(2).permute(0, 2, 1)
        context = torch.matmul(F.softmax(torch.matmul(query, key), dim=-1), value)
        return self.gamma(context.permute(0, 2, 1).reshape(x.shape)) + x


class MMSegJPU(nn.Module):
    """mmseg's JPU: levels ``start_level .. end - 1`` convolved, upsampled to the first of them and
    concatenated finest first; one separable branch per dilation; returns the passed levels and the
    fused map."""

    def __init__(self, in_channels: Sequence[int], mid_channels: int, start_level: int = 0, dilations=(1, 2, 4, 8)):
        super().__init__()
        self.start_level = start_level
        norm = dict(type='BN')
        self.conv_layers = nn.ModuleList(
            nn.Sequential(ConvModule(c, mid_channels, 3, padding=1, norm_cfg=norm)) for c in in_channels[start_level:]
        )
        fused = (len(in_channels) - start_level) * mid_channels
        self.dilation_layers = nn.ModuleList(
            nn.Sequential(
                DepthwiseSeparableConvModule(
                    fused, mid_channels, 3, padding=d, dilation=d, dw_norm_cfg=norm, dw_act_cfg=None, norm_cfg=norm
                )
            )
            for d in dilations
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        feats = [conv(x) for conv, x in zip(self.conv_layers, inputs[self.start_level :], strict=True)]
        size = feats[0].shape[2:]
        feats = [feats[0]] + [F.interpolate(f, size=size, mode='bilinear', align_corners=False) for f in feats[1:]]
        feat = torch.cat(feats, dim=1)
        fused = torch.cat([layer(feat) for layer in self.dilation_layers], dim=1)
        return (*inputs[self.start_level : -1], fused)
