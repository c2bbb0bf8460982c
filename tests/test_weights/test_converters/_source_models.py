"""Source architectures for the converter tests, with the module names of the projects we convert from.

Where the source model is small enough to rebuild here (ResNet-50 in the torchvision layout,
PyTorch-Encoding's resnet50s and resnest50, timm's resnest50d, PyTorch-Encoding's DeepLabV3
head and Deep TEN), :class:`SourceResNet`, :class:`SourceDeepLabHead` and :class:`SourceDeepTen`
reimplement it with the source's module names, so converted weights can be checked by comparing
outputs. For whole segmentation models, the ``*_keys`` functions generate the source key list
(name -> shape).
"""

import torch
import torch.nn.functional as F
from torch import nn

from segtools.registry import MODELS
from segtools.utils import register_all_modules

register_all_modules()


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
    stages at dilation 1 and 2); ``radix``/``avd``/``avg_down`` give ResNeSt; ``base`` is the width
    of the first stage (64 upstream; small values give tiny test files); ``layers`` the blocks per
    stage (ResNet-50's by default). ``forward`` returns the four stage outputs, :meth:`logits` the
    ImageNet classifier's output (global average pool, ``fc``) as upstream's ``forward``.
    """

    def __init__(
        self,
        stem_width=0,
        avg_down=False,
        radix=0,
        avd=False,
        dilated=False,
        num_classes=10,
        base=64,
        layers=(3, 4, 6, 3),
    ):
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
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
            self.inplanes = base
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(base, layers[0], 1, 1, is_first=False)
        self.layer2 = self._make_layer(2 * base, layers[1], 2, 1)
        self.layer3 = self._make_layer(4 * base, layers[2], 1 if dilated else 2, 2 if dilated else 1)
        self.layer4 = self._make_layer(8 * base, layers[3], 1 if dilated else 2, 4 if dilated else 1)
        self.fc = nn.Linear(32 * base, num_classes)

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

    def logits(self, x):
        """The classifier's output ``(N, num_classes)``: global average pool of stage 4, then ``fc``."""
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self(x)[-1], 1), 1))


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
    """``{key: shape}`` of a state dict."""
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def build(cfg):
    """A segtools module from ``cfg`` in float64, eval mode."""
    return MODELS.build(cfg).double().eval()


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


def meta_shapes(module_fn):
    """``{key: shape}`` of a module built on the meta device (no memory, no init cost)."""
    with torch.device('meta'):
        return shapes(module_fn().state_dict())


def meta_state(key_shapes):
    """Meta tensors of the given shapes (key layouts only: no values)."""
    return {key: torch.empty(shape, device='meta') for key, shape in key_shapes.items()}


# PyTorch-Encoding's ResNet-family backbones by name: SourceResNet options (blocks per stage, deep stem
# width = half the stem output, ResNeSt's split attention, avd and average-pool shortcut).
_RESNEST = dict(avg_down=True, radix=2, avd=True)
ENCODING_BACKBONES = {
    'resnet50s': dict(stem_width=64),
    'resnet101s': dict(stem_width=64, layers=(3, 4, 23, 3)),
    'resnet152s': dict(stem_width=64, layers=(3, 8, 36, 3)),
    'resnest50': dict(stem_width=32, **_RESNEST),
    'resnest101': dict(stem_width=64, layers=(3, 4, 23, 3), **_RESNEST),
    'resnest200': dict(stem_width=64, layers=(3, 24, 36, 3), **_RESNEST),
    'resnest269': dict(stem_width=64, layers=(3, 30, 48, 8), **_RESNEST),
}


def encoding_segmentation_keys(head, backbone, nclass, lateral=False, aux=True):
    """``{key: shape}`` of PyTorch-Encoding's segmentation model ``{head}_{backbone}`` (full widths).

    ``BaseNet`` sets ``pretrained.fc = None``, so there is no classifier; ``aux`` adds the FCNHead on c3
    (``auxlayer``), ``lateral`` EncNet's c2/c3 laterals.
    """
    source = meta_shapes(lambda: SourceResNet(**ENCODING_BACKBONES[backbone]))
    key_shapes = {f'pretrained.{k}': v for k, v in source.items() if not k.startswith('fc.')}
    key_shapes |= encoding_head_keys(head, nclass, lateral)
    if aux:
        key_shapes |= encoding_fcn_keys('auxlayer', 1024, nclass)
    return key_shapes


def fake_state(key_shapes):
    gen = torch.Generator().manual_seed(3)
    return {key: torch.randn(shape, generator=gen) if shape else torch.tensor(5) for key, shape in key_shapes.items()}


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


def assert_same_features(source: nn.Module, ours: nn.Module) -> None:
    """Both backbones give the same four stage outputs on one odd-sized float64 image."""
    x = torch.randn(1, 3, 35, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = source(x), ours(x)
    assert len(got) == 4
    for stage, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert g.shape == e.shape, f'stage {stage}'
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5 * e.abs().max().item())


# --- PyTorch-Encoding's WideResNet and segmentation heads (module names as upstream) ---------------------


class SourceABN(nn.BatchNorm2d):
    """In-place ABN in eval: batch norm then leaky ReLU 0.01 (the same keys as a batch norm)."""

    def forward(self, x):
        return F.leaky_relu(super().forward(x), 0.01)


class SourceWideBlock(nn.Module):
    """WideResNet BasicBlock (``len(widths) == 2``) or Bottleneck (3): pre-activation ``bn1``, convs, shortcut.

    ``dilation`` is the rate of the strided 3x3 conv (conv1 of a basic block, conv2 of a
    bottleneck); ``previous_dilation`` that of a basic block's second 3x3 conv.
    """

    def __init__(self, inplanes, widths, stride=1, dilation=1, previous_dilation=1, downsample=None):
        super().__init__()
        self.basic = len(widths) == 2
        self.bn1 = SourceABN(inplanes)
        if self.basic:
            self.conv1 = nn.Conv2d(inplanes, widths[0], 3, stride, dilation, dilation, bias=False)
            self.bn2 = SourceABN(widths[0])
            self.conv2 = nn.Conv2d(widths[0], widths[1], 3, 1, previous_dilation, previous_dilation, bias=False)
        else:
            self.conv1 = nn.Conv2d(inplanes, widths[0], 1, bias=False)
            self.bn2 = SourceABN(widths[0])
            self.conv2 = nn.Conv2d(widths[0], widths[1], 3, stride, dilation, dilation, bias=False)
            self.bn3 = SourceABN(widths[1])
            self.conv3 = nn.Conv2d(widths[1], widths[2], 1, bias=False)
        self.downsample = downsample

    def forward(self, x):
        bn1 = self.bn1(x)
        residual = self.downsample(bn1) if self.downsample is not None else x
        out = self.conv2(self.bn2(self.conv1(bn1)))
        if not self.basic:
            out = self.conv3(self.bn3(out))
        return out + residual


class SourceWideResNet(nn.Module):
    """PyTorch-Encoding's WideResNet (``mod1``, ``pool2``, ``mod2..mod7``, ``bn_out``, ``fc``).

    ``widths`` are the conv widths of each stage's blocks (upstream: 128,128 / 256,256 / 512,512 /
    512,1024 / 512,1024,2048 / 1024,2048,4096; narrow copies keep tests cheap). The forward returns
    what PyTorch-Encoding's ``base_forward`` gives its heads: ``(mod5 output, bn_out output)``.
    """

    def __init__(self, layers=(3, 3, 6, 3, 1, 1), widths=None, stem=64, dilated=True, num_classes=10):
        super().__init__()
        self.inplanes = stem
        self.mod1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.pool2 = nn.MaxPool2d(3, 2, 1)
        self.pool3 = nn.MaxPool2d(3, 2, 1)
        # (stride, dilation) of mod2..mod7, as upstream's _make_layer calls.
        if dilated:
            plan = ((1, 1), (1, 1), (2, 1), (1, 2), (1, 4), (1, 4))
        else:
            plan = ((1, 1), (1, 1), (2, 1), (2, 1), (2, 1), (1, 1))
        for i, (blocks, w, (stride, dilation)) in enumerate(zip(layers, widths, plan, strict=True)):
            self.add_module(f'mod{i + 2}', self._make_layer(i + 2, w, blocks, stride, dilation))
        self.bn_out = SourceABN(self.inplanes)
        self.fc = nn.Linear(self.inplanes, num_classes)

    def _make_layer(self, stage_index, widths, blocks, stride, dilation):
        downsample = None
        if stride != 1 or self.inplanes != widths[-1]:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, widths[-1], 1, stride, bias=False))
        first = 1 if dilation in (1, 2) else (2 if stage_index < 7 else dilation)
        layers = [SourceWideBlock(self.inplanes, widths, stride, first, dilation, downsample)]
        self.inplanes = widths[-1]
        layers += [SourceWideBlock(self.inplanes, widths, 1, dilation, dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.mod4(self.mod3(self.pool3(self.mod2(self.pool2(self.mod1(x))))))
        c3 = self.mod5(x)
        return c3.clone(), self.bn_out(self.mod7(self.mod6(c3)))


class SourceConcurrent(nn.ModuleList):
    """PyTorch-Encoding's ConcurrentModule: the branches' outputs concatenated on channels."""

    def forward(self, x):
        return torch.cat([branch(x) for branch in self], 1)


class SourceGlobalPooling(nn.Module):
    """PyTorch-Encoding's GlobalPooling: ``gap`` = pool, 1x1 conv, norm, ReLU; upsampled back."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.gap = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False), *_bn_relu(out_channels)
        )

    def forward(self, x):
        return F.interpolate(self.gap(x), x.shape[2:], mode='bilinear', align_corners=True)


def _bn_relu(channels):
    return nn.BatchNorm2d(channels), nn.ReLU()


class SourceFCNHead(nn.Module):
    """PyTorch-Encoding's FCNHead ``conv5`` (``with_global``: ``[feat, global pool]`` before the classifier)."""

    def __init__(self, in_channels, nclass, with_global=False):
        super().__init__()
        inter = in_channels // 4
        stem = (nn.Conv2d(in_channels, inter, 3, padding=1, bias=False), *_bn_relu(inter))
        if with_global:
            concurrent = SourceConcurrent([nn.Identity(), SourceGlobalPooling(inter, inter)])
            self.conv5 = nn.Sequential(*stem, concurrent, nn.Dropout2d(0.1), nn.Conv2d(2 * inter, nclass, 1))
        else:
            self.conv5 = nn.Sequential(*stem, nn.Dropout2d(0.1), nn.Conv2d(inter, nclass, 1))

    def forward(self, x):
        return self.conv5(x)


class SourcePyramidPooling(nn.Module):
    """PyTorch-Encoding's PyramidPooling: ``conv1..conv4`` (1x1 to in/4) on pools 1, 2, 3, 6; ``[x, p1..p4]``."""

    def __init__(self, in_channels):
        super().__init__()
        for i, scale in enumerate((1, 2, 3, 6), start=1):
            setattr(self, f'pool{i}', nn.AdaptiveAvgPool2d(scale))
            conv = nn.Conv2d(in_channels, in_channels // 4, 1, bias=False)
            setattr(self, f'conv{i}', nn.Sequential(conv, *_bn_relu(in_channels // 4)))

    def forward(self, x):
        size = x.shape[2:]
        pools = [getattr(self, f'conv{i}')(getattr(self, f'pool{i}')(x)) for i in range(1, 5)]
        return torch.cat([x, *(F.interpolate(p, size, mode='bilinear', align_corners=True) for p in pools)], 1)


class SourcePSPHead(nn.Module):
    """PyTorch-Encoding's PSPHead: ``conv5`` = PyramidPooling, 3x3 conv (2 in -> in/4), norm, ReLU, dropout, 1x1."""

    def __init__(self, in_channels, nclass):
        super().__init__()
        inter = in_channels // 4
        self.conv5 = nn.Sequential(
            SourcePyramidPooling(in_channels),
            nn.Conv2d(2 * in_channels, inter, 3, padding=1, bias=False),
            *_bn_relu(inter),
            nn.Dropout2d(0.1),
            nn.Conv2d(inter, nclass, 1),
        )

    def forward(self, x):
        return self.conv5(x)


class SourceEncoding(nn.Module):
    """PyTorch-Encoding's Encoding(D, K): soft assignment by scaled L2, residuals aggregated, ``(B, K, D)``."""

    def __init__(self, channels, num_codes):
        super().__init__()
        self.codewords = nn.Parameter(torch.randn(num_codes, channels) * 0.3)
        self.scale = nn.Parameter(-torch.rand(num_codes))

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)  # (B, N, D)
        residuals = x[:, :, None, :] - self.codewords  # (B, N, K, D)
        assign = F.softmax(self.scale * residuals.pow(2).sum(-1), dim=2)  # (B, N, K)
        return (assign[..., None] * residuals).sum(1)


class SourceNormalize(nn.Module):
    """PyTorch-Encoding's Normalize: each row divided by its L2 norm (``F.normalize``, eps 1e-8)."""

    def forward(self, x):
        return F.normalize(x, p=2, dim=1, eps=1e-8)


class SourceDeepTen(nn.Module):
    """PyTorch-Encoding's DeepTen: ``pretrained`` (resnet50s, not dilated, its ``fc`` unused) and ``head`` =
    conv 1x1 with bias, BN, ReLU, Encoding, View (flatten ``K*D``), Normalize, Linear.

    ``backbone`` are :class:`SourceResNet` options (upstream: ``stem_width=64``, full widths);
    ``channels``/``ncodes`` are Encoding's D and K (upstream 128 and 32).
    """

    def __init__(self, nclass=23, backbone=None, channels=128, ncodes=32):
        super().__init__()
        self.pretrained = SourceResNet(**(backbone or dict(stem_width=64)))
        c4 = self.pretrained.fc.in_features
        self.head = nn.Sequential(
            nn.Conv2d(c4, channels, 1),
            *_bn_relu(channels),
            SourceEncoding(channels, ncodes),
            nn.Flatten(),
            SourceNormalize(),
            nn.Linear(channels * ncodes, nclass),
        )

    def forward(self, x):
        return self.head(self.pretrained(x)[-1])


class SourceEncModule(nn.Module):
    """PyTorch-Encoding's EncModule: ``encoding`` (conv, BN, ReLU, Encoding, BN1d, ReLU, mean), ``fc``, ``selayer``."""

    def __init__(self, in_channels, nclass, ncodes=32, se_loss=True):
        super().__init__()
        self.encoding = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1, bias=False),
            *_bn_relu(in_channels),
            SourceEncoding(in_channels, ncodes),
            nn.BatchNorm1d(ncodes),
            nn.ReLU(),
        )
        self.fc = nn.Sequential(nn.Linear(in_channels, in_channels), nn.Sigmoid())
        self.selayer = nn.Linear(in_channels, nclass) if se_loss else None

    def forward(self, x):
        en = self.encoding(x).mean(1)
        y = x * self.fc(en)[:, :, None, None]
        outputs = [F.relu(x + y)]
        if self.selayer is not None:
            outputs.append(self.selayer(en))
        return outputs


class SourceEncHead(nn.Module):
    """PyTorch-Encoding's EncHead (``lateral``: ``connect`` on c2, c3 and ``fusion``); inputs c1..c4."""

    def __init__(self, in_channels, nclass, lateral=False, lateral_in=(), width=16, ncodes=8):
        super().__init__()
        self.lateral = lateral
        self.conv5 = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), *_bn_relu(width))
        if lateral:
            self.connect = nn.ModuleList(
                nn.Sequential(nn.Conv2d(c, width, 1, bias=False), *_bn_relu(width)) for c in lateral_in
            )
            self.fusion = nn.Sequential(nn.Conv2d(3 * width, width, 3, padding=1, bias=False), *_bn_relu(width))
        self.encmodule = SourceEncModule(width, nclass, ncodes)
        self.conv6 = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(width, nclass, 1))

    def forward(self, *inputs):
        feat = self.conv5(inputs[-1])
        if self.lateral:
            c2, c3 = self.connect[0](inputs[1]), self.connect[1](inputs[2])
            feat = self.fusion(torch.cat([feat, c2, c3], 1))
        outs = self.encmodule(feat)
        return self.conv6(outs[0]), outs[1]


class SourceFCFPNHead(nn.Module):
    """PyTorch-Encoding's FCFPNHead (``fpn_lateral``, ``fpn_out``, ``c4conv``, ``conv5``); levels coarsest first."""

    def __init__(self, nclass, in_channels=(256, 512, 1024, 2048), fpn_dim=256, fused=512):
        super().__init__()

        def cbr(c_in, c_out, k):
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), *_bn_relu(c_out))

        self.fpn_lateral = nn.ModuleList(cbr(c, fpn_dim, 1) for c in in_channels[:-1])
        self.fpn_out = nn.ModuleList(cbr(fpn_dim, fpn_dim, 3) for _ in in_channels[:-1])
        self.c4conv = cbr(in_channels[-1], fpn_dim, 3)
        self.conv5 = nn.Sequential(*cbr(len(in_channels) * fpn_dim, fused, 3), nn.Dropout2d(0.1))
        self.conv5.append(nn.Conv2d(fused, nclass, 1))

    def forward(self, *inputs):
        def up(x, size):
            return F.interpolate(x, size, mode='bilinear', align_corners=True)

        feat = self.c4conv(inputs[-1])
        c1_size = inputs[0].shape[2:]
        fpn_features = [up(feat, c1_size)]
        for i in reversed(range(len(inputs) - 1)):
            feat = up(feat, inputs[i].shape[2:]) + self.fpn_lateral[i](inputs[i])
            fpn_features.append(up(self.fpn_out[i](feat), c1_size))
        return self.conv5(torch.cat(fpn_features, 1))


class SourceACFModule(nn.Module):
    """PyTorch-Encoding's ACFModule (kq 'conv', pooling): ``conv_qs`` (also ``conv_ks``), ``conv_vs``, ``conv``,
    ``norm_layer``, ``attention`` (MixtureOfSoftMaxACF, ``weight`` when ``n_mix > 1``)."""

    def __init__(self, n_head, n_mix, d_model, d_k, d_v):
        super().__init__()
        self.n_head, self.n_mix, self.d_k, self.d_v = n_head, n_mix, d_k, d_v
        self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.conv_qs = nn.Conv2d(d_model, n_head * d_k, 1)
        self.conv_ks = self.conv_qs
        self.conv_vs = nn.Conv2d(d_model, n_head * d_v, 1)
        self.attention = nn.Module()
        if n_mix > 1:
            self.attention.weight = nn.Parameter(torch.randn(n_mix, d_k))
        self.conv = nn.Conv2d(n_head * d_v, d_model, 1, bias=False)
        self.norm_layer = nn.BatchNorm2d(d_model)

    def _attend(self, qt, kt, vt):
        b, d_k, n = qt.shape
        m, d = self.n_mix, d_k // self.n_mix
        q = qt.reshape(b * m, d, n).transpose(1, 2)
        attn = F.softmax(torch.bmm(q, kt.reshape(b * m, d, -1)) / d_k**0.5, dim=2)
        if m > 1:
            pi = F.softmax(torch.matmul(self.attention.weight, qt.mean(2, True)), dim=1).reshape(b * m, 1, 1)
            attn = (attn * pi).reshape(b, m, n, -1).sum(1)
        return torch.bmm(attn, vt.transpose(1, 2))

    def forward(self, x):
        b, _, h, w = x.shape
        heads = b * self.n_head
        qt = self.conv_ks(x).reshape(heads, self.d_k, h * w)
        kt = self.conv_ks(self.pool(x)).reshape(heads, self.d_k, h * w // 4)
        vt = self.conv_vs(self.pool(x)).reshape(heads, self.d_v, h * w // 4)
        out = self._attend(qt, kt, vt).transpose(1, 2).reshape(b, self.n_head * self.d_v, h, w)
        return self.norm_layer(self.conv(out)) + x


class SourceATTENHead(nn.Module):
    """PyTorch-Encoding's ATTENHead (with_global, with_enc, no lateral): ``conv5``, ``atten``,
    ``atten_layers`` = [GlobalPooling, the same ``atten``], ``encmodule``, ``conv6``."""

    def __init__(self, in_channels, nclass, nheads=2, nmixs=1, ncodes=8):
        super().__init__()
        inter = in_channels // 4
        self.conv5 = nn.Sequential(nn.Conv2d(in_channels, inter, 3, padding=1, bias=False), *_bn_relu(inter))
        self.atten = SourceACFModule(nheads, nmixs, inter, inter // nheads * nmixs, inter // nheads)
        self.atten_layers = SourceConcurrent([SourceGlobalPooling(inter, inter), self.atten])
        self.encmodule = SourceEncModule(2 * inter, nclass, ncodes, se_loss=False)
        self.conv6 = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(2 * inter, nclass, 1))

    def forward(self, x):
        return self.conv6(self.encmodule(self.atten_layers(self.conv5(x)))[0])


def image_classifier_cfg(backbone_cfg, in_channels, num_classes=1000):
    """``ImageClassifier(backbone, GlobalAveragePooling, LinearClsHead)``: the configs of the ``*_imagenet`` entries."""
    return dict(
        type='ImageClassifier',
        backbone=dict(backbone_cfg, out_indices=(3,)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=in_channels),
    )
