"""Tests of tools/model_converters/{torchvision,encoding,mmseg}2segtools.py.

Where the source model is small enough to rebuild here (ResNet-50 in the torchvision layout,
PyTorch-Encoding's resnet50s and resnest50, timm's resnest50d, PyTorch-Encoding's DeepLabV3
head), :class:`SourceResNet` and :class:`SourceDeepLabHead` reimplement it with the source's
module names; the converted weights must give the same outputs in segtools. For whole
segmentation models the source key list is generated from the source layout and must match the
segtools model built from the config exactly (keys and shapes, nothing missing or unexpected).
"""

import builtins
import importlib
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from segtools.registry import MODELS
from segtools.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[2]
CONVERTERS = ROOT / 'tools' / 'model_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
common = importlib.import_module('_common')
tv2st = importlib.import_module('torchvision2segtools')
enc2st = importlib.import_module('encoding2segtools')
mmseg2st = importlib.import_module('mmseg2segtools')

register_all_modules()


# ----------------------------------------------------------------------------------------------- source models
class SourceBottleneck(nn.Module):
    """Bottleneck of torchvision / PyTorch-Encoding / timm (stride on the 3x3 conv, ResNet v1.5)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None, radix=0, avd=False):
        super().__init__()
        self.radix = radix
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.avd_layer = nn.AvgPool2d(3, stride, padding=1) if avd else None
        conv_stride = 1 if avd else stride
        if radix:
            self.conv2 = SourceSplAt(planes, planes, conv_stride, dilation, radix)
        else:
            self.conv2 = nn.Conv2d(planes, planes, 3, conv_stride, dilation, dilation, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if not self.radix:
            out = F.relu(self.bn2(out))
        if self.avd_layer is not None:
            out = self.avd_layer(out)
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class SourceSplAt(nn.Module):
    """SplAtConv2d of PyTorch-Encoding / SplitAttn of timm (cardinality 1)."""

    def __init__(self, in_channels, channels, stride, dilation, radix):
        super().__init__()
        self.radix = radix
        inter = max(in_channels * radix // 4, 32)
        self.conv = nn.Conv2d(in_channels, channels * radix, 3, stride, dilation, dilation, groups=radix, bias=False)
        self.bn0 = nn.BatchNorm2d(channels * radix)
        self.fc1 = nn.Conv2d(channels, inter, 1)
        self.bn1 = nn.BatchNorm2d(inter)
        self.fc2 = nn.Conv2d(inter, channels * radix, 1)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv(x)))
        splits = torch.split(x, x.shape[1] // self.radix, dim=1)
        gap = F.adaptive_avg_pool2d(sum(splits), 1)
        atten = self.fc2(F.relu(self.bn1(self.fc1(gap))))
        n = atten.shape[0]
        atten = F.softmax(atten.view(n, 1, self.radix, -1).transpose(1, 2), dim=1).reshape(n, -1, 1, 1)
        attens = torch.split(atten, x.shape[1] // self.radix, dim=1)
        return sum(a * s for a, s in zip(attens, splits, strict=True))


class SourceResNet(nn.Module):
    """ResNet-50 with the module names of torchvision (``stem_width=0``), PyTorch-Encoding and timm.

    ``stem_width > 0`` gives the deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` (``2 * stem_width``
    channels); ``dilated`` is PyTorch-Encoding's output stride 8 (first blocks of the d=2 and d=4
    stages at dilation 1 and 2); ``radix``/``avd``/``avg_down`` give ResNeSt.
    """

    def __init__(self, stem_width=0, avg_down=False, radix=0, avd=False, dilated=False, num_classes=10):
        super().__init__()
        self.avg_down, self.radix, self.avd = avg_down, radix, avd
        if stem_width:
            w = stem_width
            self.conv1 = nn.Sequential(
                nn.Conv2d(3, w, 3, 2, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
                nn.Conv2d(w, w, 3, 1, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
                nn.Conv2d(w, 2 * w, 3, 1, 1, bias=False),
            )
            self.inplanes = 2 * w
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.inplanes = 64
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, 3, 1, 1, is_first=False)
        self.layer2 = self._make_layer(128, 4, 2, 1)
        self.layer3 = self._make_layer(256, 6, 1 if dilated else 2, 2 if dilated else 1)
        self.layer4 = self._make_layer(512, 3, 1 if dilated else 2, 4 if dilated else 1)
        self.fc = nn.Linear(2048, num_classes)

    def _make_layer(self, planes, blocks, stride, dilation, is_first=True):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            if self.avg_down:
                pool = nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)
                conv = nn.Conv2d(self.inplanes, planes * 4, 1, bias=False)
                downsample = nn.Sequential(pool, conv, nn.BatchNorm2d(planes * 4))
            else:
                conv = nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False)
                downsample = nn.Sequential(conv, nn.BatchNorm2d(planes * 4))
        first_dilation = {1: 1, 2: 1, 4: 2}[dilation]
        avd = self.avd and (stride > 1 or is_first)
        layers = [SourceBottleneck(self.inplanes, planes, stride, first_dilation, downsample, self.radix, avd)]
        self.inplanes = planes * 4
        layers += [SourceBottleneck(self.inplanes, planes, 1, dilation, None, self.radix) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


class SourceDeepLabHead(nn.Module):
    """PyTorch-Encoding's DeepLabV3Head: ASPP_Module (``b0..b4``, pooling last, ``project``) + ``block``."""

    def __init__(self, in_channels, nclass, rates=(12, 24, 36)):
        super().__init__()
        c = in_channels // 8

        def conv_bn(k, rate=1):
            pad = 0 if k == 1 else rate
            return nn.Sequential(nn.Conv2d(in_channels, c, k, padding=pad, dilation=rate, bias=False), *bn_relu(c))

        def bn_relu(ch):
            return nn.BatchNorm2d(ch), nn.ReLU()

        self.aspp = nn.Module()
        self.aspp.b0 = conv_bn(1)
        self.aspp.b1, self.aspp.b2, self.aspp.b3 = (conv_bn(3, r) for r in rates)
        self.aspp.b4 = nn.Module()
        self.aspp.b4.gap = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, c, 1, bias=False), *bn_relu(c))
        self.aspp.project = nn.Sequential(nn.Conv2d(5 * c, c, 1, bias=False), *bn_relu(c), nn.Dropout2d(0.5))
        self.block = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), *bn_relu(c), nn.Dropout(0.1))
        self.block.append(nn.Conv2d(c, nclass, 1))

    def forward(self, x):
        a = self.aspp
        pool = F.interpolate(a.b4.gap(x), x.shape[2:], mode='bilinear', align_corners=True)
        y = a.project(torch.cat([a.b0(x), a.b1(x), a.b2(x), a.b3(x), pool], dim=1))
        return self.block(y)


def randomize(model: nn.Module) -> nn.Module:
    """Random weights and batch-norm statistics, eval mode, float64."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / module.weight[0].numel() ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
    return model.double().eval()


def shapes(state_dict):
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def build(cfg):
    return MODELS.build(cfg).double().eval()


# ----------------------------------------------------------------------------------------------- backbones: outputs
BACKBONE_CASES = [
    # (converter, arch, source options, segtools backbone config)
    (tv2st, 'resnet50', dict(), dict(type='ResNet', depth=50)),
    (enc2st, 'resnet50s', dict(stem_width=64), dict(type='ResNetV1c', depth=50)),
    (
        enc2st,
        'resnet50s',
        dict(stem_width=64, dilated=True),
        dict(type='ResNetV1c', depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True),
    ),
    (tv2st, 'resnest50d', dict(stem_width=32, avg_down=True, radix=2, avd=True), dict(type='ResNeSt', depth=50)),
    (
        enc2st,
        'resnest50',
        dict(stem_width=32, avg_down=True, radix=2, avd=True, dilated=True),
        dict(type='ResNeSt', depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True),
    ),
]


@pytest.mark.parametrize(('converter', 'arch', 'source_opts', 'backbone_cfg'), BACKBONE_CASES)
def test_converted_backbone_reproduces_source_outputs(converter, arch, source_opts, backbone_cfg):
    source = randomize(SourceResNet(**source_opts))
    result = converter.convert_with_report(source.state_dict(), arch)
    assert result.dropped == ['fc.weight', 'fc.bias']
    ours = build(backbone_cfg)
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(1, 3, 35, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = source(x), ours(x)
    assert len(got) == 4
    for stage, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert g.shape == e.shape, f'stage {stage}'
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5 * e.abs().max().item())


def test_missing_num_batches_tracked_is_filled():
    state = SourceResNet(stem_width=64).state_dict()
    old = {key: value for key, value in state.items() if not key.endswith('num_batches_tracked')}
    converted = enc2st.convert(old, 'resnet50s')
    assert shapes(converted) == shapes(build(dict(type='ResNetV1c', depth=50)).state_dict())
    assert converted['stem.7.num_batches_tracked'].item() == 0


# ----------------------------------------------------------------------------------------------- heads: outputs
def test_encoding_deeplab_head_reproduces_source_outputs():
    """PyTorch-Encoding concatenates ASPP's image pooling last; the projection must be rotated."""
    source = randomize(SourceDeepLabHead(32, nclass=5))
    state = {f'head.{key}': value for key, value in source.state_dict().items()}
    converted = enc2st.convert_keys(state, enc2st.HEADS['deeplab'], 'deeplab').state_dict
    head = build(
        dict(
            type='ASPPHead',
            in_channels=32,
            channels=4,
            dilations=(1, 12, 24, 36),
            project_dropout_ratio=0.5,
            num_classes=5,
            norm_cfg=dict(type='BN'),
            align_corners=True,
        )
    )
    head.load_state_dict({key.removeprefix('decode_head.'): value for key, value in converted.items()}, strict=True)
    x = torch.randn(2, 32, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(head([x]), source(x), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------------------------- source key lists
def conv_keys(name, c_out, c_in, k=1, bias=False):
    keys = {f'{name}.weight': (c_out, c_in, k, k)}
    if bias:
        keys[f'{name}.bias'] = (c_out,)
    return keys


def bn_keys(name, n):
    keys = {f'{name}.{leaf}': (n,) for leaf in ('weight', 'bias', 'running_mean', 'running_var')}
    keys[f'{name}.num_batches_tracked'] = ()
    return keys


def linear_keys(name, c_out, c_in):
    return {f'{name}.weight': (c_out, c_in), f'{name}.bias': (c_out,)}


def encoding_fcn_keys(name, c_in, nclass):
    """PyTorch-Encoding FCNHead ``conv5``: conv 3x3 (in/4), norm, ReLU, dropout, 1x1 classifier."""
    inter = c_in // 4
    return {
        **conv_keys(f'{name}.conv5.0', inter, c_in, 3),
        **bn_keys(f'{name}.conv5.1', inter),
        **conv_keys(f'{name}.conv5.4', nclass, inter, bias=True),
    }


def encoding_head_keys(model, nclass, lateral=False):
    """The ``head.*`` keys of PyTorch-Encoding's segmentation model ``model`` on a 2048-channel c4."""
    if model == 'fcn':
        return encoding_fcn_keys('head', 2048, nclass)
    if model == 'psp':
        keys = {}
        for i in range(1, 5):
            keys |= conv_keys(f'head.conv5.0.conv{i}.0', 512, 2048) | bn_keys(f'head.conv5.0.conv{i}.1', 512)
        return (
            keys
            | conv_keys('head.conv5.1', 512, 4096, 3)
            | bn_keys('head.conv5.2', 512)
            | (conv_keys('head.conv5.5', nclass, 512, bias=True))
        )
    if model == 'encnet':
        keys = conv_keys('head.conv5.0', 512, 2048, 3) | bn_keys('head.conv5.1', 512)
        if lateral:
            for i, c_in in enumerate((512, 1024)):
                keys |= conv_keys(f'head.connect.{i}.0', 512, c_in) | bn_keys(f'head.connect.{i}.1', 512)
            keys |= conv_keys('head.fusion.0', 512, 3 * 512, 3) | bn_keys('head.fusion.1', 512)
        keys |= conv_keys('head.encmodule.encoding.0', 512, 512) | bn_keys('head.encmodule.encoding.1', 512)
        keys |= {'head.encmodule.encoding.3.codewords': (32, 512), 'head.encmodule.encoding.3.scale': (32,)}
        keys |= bn_keys('head.encmodule.encoding.4', 32) | linear_keys('head.encmodule.fc.0', 512, 512)
        return (
            keys | linear_keys('head.encmodule.selayer', nclass, 512) | conv_keys('head.conv6.1', nclass, 512, 1, True)
        )
    assert model == 'deeplab'
    keys = conv_keys('head.aspp.b0.0', 256, 2048) | bn_keys('head.aspp.b0.1', 256)
    for i in (1, 2, 3):
        keys |= conv_keys(f'head.aspp.b{i}.0', 256, 2048, 3) | bn_keys(f'head.aspp.b{i}.1', 256)
    keys |= conv_keys('head.aspp.b4.gap.1', 256, 2048) | bn_keys('head.aspp.b4.gap.2', 256)
    keys |= conv_keys('head.aspp.project.0', 256, 1280) | bn_keys('head.aspp.project.1', 256)
    return (
        keys
        | conv_keys('head.block.0', 256, 256, 3)
        | bn_keys('head.block.1', 256)
        | (conv_keys('head.block.4', nclass, 256, bias=True))
    )


def fake_state(key_shapes):
    gen = torch.Generator().manual_seed(3)
    return {key: torch.randn(shape, generator=gen) if shape else torch.tensor(5) for key, shape in key_shapes.items()}


ENCODING_MODELS = [
    # (arch, source backbone options, head, nclass, lateral, aux, segtools config)
    ('fcn_resnet50s', dict(stem_width=64), 'fcn', 150, False, False, 'fcn/fcn_r50s-d8_4xb4-180e_ade20k-480x480.py'),
    (
        'psp_resnet50s',
        dict(stem_width=64),
        'psp',
        150,
        False,
        True,
        'pspnet/pspnet_r50s-d8_4xb4-180e_ade20k-480x480.py',
    ),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        150,
        False,
        True,
        'encnet/encnet_r50s-d8_4xb4-180e_ade20k-480x480.py',
    ),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        59,
        True,
        True,
        'encnet/encnet_r50s-d8_4xb4-80e_pascal-context-59-480x480.py',
    ),
    (
        'fcn_resnest50',
        dict(stem_width=32, avg_down=True, radix=2, avd=True),
        'fcn',
        150,
        False,
        True,
        'resnest/fcn_s50-d8_4xb4-120e_ade20k-480x480.py',
    ),
    (
        'deeplab_resnest50',
        dict(stem_width=32, avg_down=True, radix=2, avd=True),
        'deeplab',
        150,
        False,
        True,
        'resnest/deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py',
    ),
]


def model_state(config):
    return MODELS.build(Config.fromfile(str(ROOT / 'configs' / config)).model).state_dict()


@pytest.mark.parametrize(('arch', 'backbone_opts', 'head', 'nclass', 'lateral', 'aux', 'config'), ENCODING_MODELS)
def test_encoding_segmentation_model_keys_match_config(arch, backbone_opts, head, nclass, lateral, aux, config):
    backbone = SourceResNet(**backbone_opts).state_dict()
    # BaseNet sets pretrained.fc = None, so a segmentation checkpoint has no classifier.
    key_shapes = {f'pretrained.{k}': tuple(v.shape) for k, v in backbone.items() if not k.startswith('fc.')}
    key_shapes |= encoding_head_keys(head, nclass, lateral)
    if aux:
        key_shapes |= encoding_fcn_keys('auxlayer', 1024, nclass)
    result = enc2st.convert_with_report(fake_state(key_shapes), arch)
    assert result.dropped == []
    expected = shapes(model_state(config))
    assert shapes(result.state_dict) == expected
    missing, unexpected = common.check_against_model(result.state_dict, model_state(config))
    assert (missing, unexpected) == ([], [])


def mmseg_backbone_keys():
    """mmseg ResNetV1c-50 (stem 64): ``backbone.stem.{0..7}`` then torchvision-named blocks."""
    keys = conv_keys('backbone.stem.0', 32, 3, 3) | bn_keys('backbone.stem.1', 32)
    keys |= conv_keys('backbone.stem.3', 32, 32, 3) | bn_keys('backbone.stem.4', 32)
    keys |= conv_keys('backbone.stem.6', 64, 32, 3) | bn_keys('backbone.stem.7', 64)
    source = SourceResNet(stem_width=32).state_dict()
    return keys | {f'backbone.{k}': tuple(v.shape) for k, v in source.items() if k.startswith('layer')}


def mmseg_conv_module(name, c_out, c_in, k):
    return conv_keys(f'{name}.conv', c_out, c_in, k) | bn_keys(f'{name}.bn', c_out)


def mmseg_head_keys(model, nclass):
    seg = conv_keys('decode_head.conv_seg', nclass, 512, bias=True)
    if model == 'fcn':
        keys = mmseg_conv_module('decode_head.convs.0', 512, 2048, 3) | mmseg_conv_module(
            'decode_head.convs.1', 512, 512, 3
        )
        return keys | mmseg_conv_module('decode_head.conv_cat', 512, 2560, 3) | seg
    if model == 'psp':
        keys = {}
        for i in range(4):
            keys |= mmseg_conv_module(f'decode_head.psp_modules.{i}.1', 512, 2048, 1)
        return keys | mmseg_conv_module('decode_head.bottleneck', 512, 4096, 3) | seg
    if model == 'deeplabv3':
        keys = mmseg_conv_module('decode_head.image_pool.1', 512, 2048, 1)
        for i in range(4):
            keys |= mmseg_conv_module(f'decode_head.aspp_modules.{i}', 512, 2048, 1 if i == 0 else 3)
        return keys | mmseg_conv_module('decode_head.bottleneck', 512, 2560, 3) | seg
    assert model == 'encnet'
    keys = mmseg_conv_module('decode_head.bottleneck', 512, 2048, 3)
    keys |= mmseg_conv_module('decode_head.enc_module.encoding_project', 512, 512, 1)
    keys |= {'decode_head.enc_module.encoding.0.codewords': (32, 512), 'decode_head.enc_module.encoding.0.scale': (32,)}
    keys |= bn_keys('decode_head.enc_module.encoding.1', 32) | linear_keys('decode_head.enc_module.fc.0', 512, 512)
    return keys | linear_keys('decode_head.se_layer', nclass, 512) | seg


MMSEG_MODELS = [
    ('fcn', 'fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('psp', 'pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('deeplabv3', 'deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('encnet', 'encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py'),
]


@pytest.mark.parametrize(('arch', 'config'), MMSEG_MODELS)
def test_mmseg_model_keys_match_config(arch, config):
    key_shapes = mmseg_backbone_keys() | mmseg_head_keys(arch, 150)
    key_shapes |= mmseg_conv_module('auxiliary_head.convs.0', 256, 1024, 3)
    key_shapes |= conv_keys('auxiliary_head.conv_seg', 150, 256, bias=True)
    state = fake_state(key_shapes)
    converted = mmseg2st.convert(state, arch)
    assert shapes(converted) == shapes(model_state(config))
    # Renaming never alters values.
    for src_key in ('backbone.stem.7.running_var', 'auxiliary_head.conv_seg.bias'):
        assert torch.equal(converted[src_key], state[src_key])


# ----------------------------------------------------------------------------------------------- errors and CLI
def test_unknown_arch_and_unmapped_key_are_refused():
    with pytest.raises(KeyError, match='resnet42'):
        enc2st.convert({}, 'resnet42')
    with pytest.raises(KeyError, match='pspnet'):
        mmseg2st.convert({}, 'pspnet')
    with pytest.raises(KeyError, match='vgg16'):
        tv2st.convert({}, 'vgg16')
    state = {'conv1.weight': torch.zeros(64, 3, 7, 7), 'features.0.weight': torch.zeros(1)}
    with pytest.raises(common.ConversionError, match=r'features\.0\.weight'):
        tv2st.convert(state, 'resnet50')


def test_shape_mismatch_is_refused_naming_key():
    converted = {'a.weight': torch.zeros(3, 4), 'b.weight': torch.zeros(2)}
    with pytest.raises(common.ShapeMismatchError, match=r'a\.weight: converted \(3, 4\) vs model \(4, 3\)'):
        common.check_against_model(converted, {'a.weight': torch.zeros(4, 3), 'b.weight': torch.zeros(2)})
    missing, unexpected = common.check_against_model(converted, {'b.weight': torch.zeros(2), 'c.bias': torch.zeros(1)})
    assert (missing, unexpected) == (['c.bias'], ['a.weight'])


@pytest.fixture(scope='module')
def resnet50s_state():
    return SourceResNet(stem_width=64).state_dict()


R50S_CONFIG = str(ROOT / 'configs' / 'fcn' / 'fcn_r50s-d8_4xb4-180e_ade20k-480x480.py')


def test_cli_converts_and_checks_against_config(tmp_path, capsys, resnet50s_state):
    src, dst = tmp_path / 'resnet50s.pth', tmp_path / 'out' / 'r50s.pth'
    torch.save(resnet50s_state, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 0
    out = capsys.readouterr().out
    assert 'dropped source keys (2)' in out and 'all keys and shapes match' in out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['source'] == 'PyTorch-Encoding' and saved['meta']['arch'] == 'resnet50s'
    assert torch.equal(saved['state_dict']['stem.7.weight'], resnet50s_state['bn1.weight'])
    assert not list(dst.parent.glob('*.tmp'))


def test_cli_refuses_shape_mismatch_and_writes_nothing(tmp_path, capsys, resnet50s_state):
    state = dict(resnet50s_state)
    state['layer1.0.conv1.weight'] = torch.zeros(65, 128, 1, 1)
    src, dst = tmp_path / 'bad.pth', tmp_path / 'r50s.pth'
    torch.save({'state_dict': state}, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 1
    err = capsys.readouterr().err
    assert 'layer1.0.conv1.weight: converted (65, 128, 1, 1) vs model (64, 128, 1, 1)' in err
    assert not dst.exists()


def test_cli_missing_keys_fail_unless_allowed(tmp_path, capsys, resnet50s_state):
    state = {k: v for k, v in resnet50s_state.items() if not k.startswith('layer4.2.')}
    src, dst = tmp_path / 'partial.pth', tmp_path / 'r50s.pth'
    torch.save(state, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 1
    assert 'layer4.2.conv1.weight' in capsys.readouterr().out and not dst.exists()
    argv = [str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG, '--allow-missing']
    assert enc2st.main(argv) == 0 and dst.exists()


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f'open({str(self.marker)!r}, "w").close()',)


def test_cli_refuses_code_executing_pickle(tmp_path, capsys):
    marker = tmp_path / 'pwned'
    src, dst = tmp_path / 'evil.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}, 'payload': _RunsCode(marker)}, src)
    assert mmseg2st.main([str(src), str(dst), '--arch', 'fcn']) == 1
    assert 'Refusing to load' in capsys.readouterr().err
    assert not marker.exists() and not dst.exists()


def test_cli_rejects_unknown_arch(tmp_path):
    with pytest.raises(SystemExit) as exc:
        tv2st.main([str(tmp_path / 'a.pth'), str(tmp_path / 'b.pth'), '--arch', 'vgg16'])
    assert exc.value.code == 2
