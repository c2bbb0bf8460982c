"""Tests of the ResNet backbone."""

import math

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from segtools.models.backbones.resnet import ResNet
from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.registry import MODELS

TINY = dict(base_channels=8, stem_channels=8)
# (strides, dilations, contract_dilation) for output strides 32, 16 and 8.
OUTPUT_STRIDES = {
    32: ((1, 2, 2, 2), (1, 1, 1, 1), False),
    16: ((1, 2, 2, 1), (1, 1, 1, 2), False),
    8: ((1, 2, 1, 1), (1, 1, 2, 4), True),
}


def check_outputs(model: ResNet, outs: tuple[torch.Tensor, ...], size: int) -> None:
    assert isinstance(outs, tuple) and len(outs) == len(model.out_indices) > 0
    assert len(model.out_channels) == len(model.out_strides) == len(outs)
    for out, channels, stride in zip(outs, model.out_channels, model.out_strides, strict=True):
        assert out.shape[1:] == (channels, math.ceil(size / stride), math.ceil(size / stride))


@pytest.mark.parametrize('output_stride', sorted(OUTPUT_STRIDES))
@pytest.mark.parametrize('depth', [18, 50])
def test_output_shapes(depth, output_stride):
    strides, dilations, contract = OUTPUT_STRIDES[output_stride]
    model = ResNet(depth, strides=strides, dilations=dilations, contract_dilation=contract, **TINY)
    expansion = 1 if depth == 18 else 4
    assert model.out_channels == tuple(8 * 2**i * expansion for i in range(4))
    assert model.out_strides[-1] == output_stride
    assert model.out_strides == tuple(4 * math.prod(strides[: i + 1]) for i in range(4))
    check_outputs(model, model(torch.randn(1, 3, 64, 64)), 64)


def test_out_indices_subset_and_order():
    model = ResNet(18, out_indices=(3, 1), **TINY)
    outs = model(torch.randn(2, 3, 32, 32))
    assert model.out_channels == (64, 16) and model.out_strides == (32, 8)
    check_outputs(model, outs, 32)


def test_fewer_stages():
    model = ResNet(18, num_stages=2, out_indices=(0, 1), **TINY)
    assert not hasattr(model, 'layer3')
    check_outputs(model, model(torch.randn(1, 3, 32, 32)), 32)


@pytest.mark.parametrize('depth,millions', [(18, 11.7), (34, 21.8), (50, 25.6), (101, 44.5), (152, 60.2)])
def test_imagenet_parameter_counts(depth, millions):
    with torch.device('meta'):
        model = ResNet(depth, num_classes=1000)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(millions, rel=0.005)


def test_classification_head_returns_logits():
    model = ResNet(18, num_classes=5, final_drop=0.2, **TINY)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_pytorch_encoding_output_stride_8_dilations():
    # PyTorch-Encoding's dilated ResNet: first block of the d=2 stage at 1, of the d=4 stage at 2.
    strides, dilations, _ = OUTPUT_STRIDES[8]
    model = ResNet(50, strides=strides, dilations=dilations, contract_dilation=True, **TINY)
    expected = {'layer3': [1] + [2] * 5, 'layer4': [2, 4, 4]}
    for name, rates in expected.items():
        assert [block.conv2.dilation for block in getattr(model, name)] == [(d, d) for d in rates]


def test_multi_grid_applies_to_last_stage_only():
    model = ResNet(50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), multi_grid=(1, 2, 4), **TINY)
    assert [b.conv2.dilation for b in model.layer4] == [(1, 1), (2, 2), (4, 4)]
    assert {b.conv2.dilation for b in model.layer3} == {(1, 1)}
    with pytest.raises(ValueError, match='multi_grid'):
        ResNet(50, multi_grid=(1, 2), **TINY)


def check_frozen(model: torch.nn.Module, stages: list[list[torch.nn.Module]], frozen_stages: int) -> None:
    """Frozen stages: no gradients, every submodule in eval; the others train; all params covered."""
    frozen = [m for stage in stages[: frozen_stages + 1] for m in stage]
    free = [m for stage in stages[frozen_stages + 1 :] for m in stage]
    assert len(frozen) + len(free) > 0
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    staged_ids = frozen_ids | {id(p) for m in free for p in m.parameters()}
    params = list(model.parameters())
    assert params and {id(p) for p in params} == staged_ids
    assert all(p.requires_grad == (id(p) not in frozen_ids) for p in params)
    assert all(not m.training for module in frozen for m in module.modules())
    assert all(m.training for module in free for m in module.modules())
    assert model.training


@pytest.mark.parametrize('frozen_stages', [-1, 0, 2, 4])
def test_frozen_stages(frozen_stages):
    model = ResNet(18, frozen_stages=frozen_stages, **TINY)
    # train() after eval() must not thaw the frozen stages.
    model.eval().train()
    stages = [[model.conv1, model.norm1]] + [[getattr(model, f'layer{i}')] for i in range(1, 5)]
    check_frozen(model, stages, frozen_stages)


def test_frozen_deep_stem():
    model = ResNet(18, deep_stem=True, frozen_stages=0, **TINY).train()
    assert all(not p.requires_grad for p in model.stem.parameters())
    assert not model.stem.training and model.layer1.training


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_keeps_statistics(norm_eval):
    model = ResNet(18, norm_eval=norm_eval, **TINY).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(m.training != norm_eval for m in norms)
    before = [m.running_mean.clone() for m in norms]
    model(torch.randn(2, 3, 32, 32))
    unchanged = [torch.equal(m.running_mean, b) for m, b in zip(norms, before, strict=True)]
    # Without norm_eval the same forward updates every running mean: the check can fail.
    assert all(unchanged) if norm_eval else not any(unchanged)
    assert model.training and model.layer1.training


@pytest.mark.parametrize('depth', [18, 50])
def test_init_weights(depth):
    model = ResNet(depth, zero_init_residual=True, **TINY)
    model.init_weights()
    blocks = [m for m in model.modules() if hasattr(m, 'last_norm')]
    assert blocks
    for block in blocks:
        assert torch.all(block.last_norm.weight == 0)
    assert torch.all(model.norm1.weight == 1) and torch.all(model.norm1.bias == 0)
    # Kaiming normal, fan_out: std sqrt(2 / (k * k * out)).
    w = model.layer2[0].conv1.weight
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.25)


def test_pretrained_sets_init_cfg():
    assert ResNet(18, pretrained='ckpt.pth', **TINY).init_cfg == dict(type='Pretrained', checkpoint='ckpt.pth')
    with pytest.raises(ValueError, match='not both'):
        ResNet(18, pretrained='ckpt.pth', init_cfg=dict(type='Pretrained', checkpoint='x'))


def build_sync_bn_resnet() -> ResNet:
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(dict(type='ResNet', depth=18, norm_cfg=dict(type='SyncBN'), **TINY))
    assert isinstance(model.layer1[0].bn1, SyncBatchNorm)
    return model


def test_build_from_registry_with_sync_bn():
    model = build_sync_bn_resnet()
    with torch.no_grad():
        check_outputs(model, model(torch.randn(2, 3, 32, 32)), 32)


def test_sync_bn_backward_through_inplace_relu():
    model = build_sync_bn_resnet()
    sum(out.sum() for out in model(torch.randn(2, 3, 32, 32))).backward()


def test_misspelt_argument_raises_type_error():
    with pytest.raises(TypeError, match='dilation_rates'):
        ResNet(18, dilation_rates=(1, 1, 2, 4))


@pytest.mark.parametrize(
    'kwargs,message',
    [
        (dict(depth=19), '18, 34, 50, 101, 152'),
        (dict(depth=18, groups=32), 'groups'),
        (dict(depth=34, rectified_conv=True), 'rectified_conv'),
        (dict(depth=18, out_indices=(4,)), 'out_indices'),
        (dict(depth=18, frozen_stages=5), r'frozen_stages must be in -1\.\.4'),
        (dict(depth=18, frozen_stages=-2), r'frozen_stages must be in -1\.\.4'),
        (dict(depth=18, num_stages=2, out_indices=(0, 1), frozen_stages=3), r'frozen_stages must be in -1\.\.2'),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNet(**kwargs)


@pytest.mark.parametrize('depth', [18, 50])
def test_caffe_style_puts_the_stride_on_the_first_1x1_conv(depth):
    model = ResNet(depth, style='caffe', **TINY)
    first = model.layer2[0]
    if depth == 50:
        assert first.conv1.stride == (2, 2) and first.conv2.stride == (1, 1)
        assert ResNet(depth, **TINY).layer2[0].conv2.stride == (2, 2)
    else:  # BasicBlock: unaffected, its first conv is the 3x3 one.
        assert first.conv1.stride == (2, 2) and first.conv1.kernel_size == (3, 3)
    assert model.out_strides == (4, 8, 16, 32)
    check_outputs(model, model(torch.randn(1, 3, 64, 64)), 64)


def test_basic_block_stages_dilate_only_the_first_conv_of_each_block():
    strides, dilations, contract = OUTPUT_STRIDES[8]
    model = ResNet(18, strides=strides, dilations=dilations, contract_dilation=contract, **TINY)
    assert [b.conv1.dilation for b in model.layer4] == [(2, 2), (4, 4)]
    assert {b.conv2.dilation for name in model.res_layers for b in getattr(model, name)} == {(1, 1)}


@pytest.mark.parametrize('depth', [18, 50])
@pytest.mark.parametrize('frozen_stages', [-1, 0])
def test_with_cp_gives_the_same_outputs_and_gradients(depth, frozen_stages):
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = ResNet(depth, with_cp=with_cp, frozen_stages=frozen_stages, **TINY).train()
        outs = model(torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
        sum((o * o).mean() for o in outs).backward()
        grads = {k: p.grad for k, p in model.named_parameters() if p.requires_grad}
        results.append(([o.detach() for o in outs], grads))
    (outs_a, grads_a), (outs_b, grads_b) = results
    assert all(b.with_cp for name in model.res_layers for b in getattr(model, name))
    for a, b in zip(outs_a, outs_b, strict=True):
        torch.testing.assert_close(b, a)
    assert grads_a and grads_a.keys() == grads_b.keys()
    for key, grad in grads_a.items():
        assert grad is not None
        torch.testing.assert_close(grads_b[key], grad)


def test_mmseg_empty_dcn_and_plugin_options_are_accepted():
    model = ResNet(50, dcn=None, stage_with_dcn=(False, False, False, False), plugins=None, **TINY)
    assert model.out_channels == (32, 64, 128, 256)
    ResNet(18, plugins=[], stage_with_dcn=(False, False), **TINY)


@pytest.mark.parametrize(
    'kwargs,message',
    [
        (dict(dcn=dict(type='DCN', deform_groups=1)), r"dcn=.* needs mmcv\.ops' deformable convolution"),
        (dict(stage_with_dcn=(False, True, True, True)), r'stage_with_dcn=.* asks for deformable convolution'),
        (
            dict(plugins=[dict(cfg=dict(type='ContextBlock'), position='after_conv3')]),
            'plugins=.* not support',
        ),
        (dict(style='tf'), r"style must be 'pytorch' .* or 'caffe' .*, got 'tf'"),
        (dict(avd=True, avg_down_stride=True), 'avd .* or avg_down_stride .*, not both'),
        (dict(avd=True, style='caffe'), "avd moves the 3x3 conv's stride .* style='caffe'"),
        (dict(with_cp=True, dropblock_prob=0.1), 'with_cp .* DropBlock'),
        (dict(depth=18, avg_down_stride=True), r"BasicBlock, which does not support \['avg_down_stride'\]"),
    ],
)
def test_mmseg_options_refused_with_the_reason(kwargs, message):
    kwargs = dict(depth=50, **TINY) | kwargs
    with pytest.raises(ValueError, match=message):
        ResNet(**kwargs)


def test_pretrained_must_be_a_path():
    with pytest.raises(TypeError, match='pretrained must be a checkpoint path'):
        ResNet(18, pretrained=dict(checkpoint='x.pth'), **TINY)


def test_avg_down_stride_pools_only_strided_blocks():
    strides, dilations, contract = OUTPUT_STRIDES[8]
    model = ResNet(50, radix=2, avg_down_stride=True, strides=strides, dilations=dilations, **TINY)
    firsts = [getattr(model, name)[0] for name in model.res_layers]
    assert [b.avd_layer is not None for b in firsts] == [False, True, False, False]
    assert firsts[1].conv2.conv.stride == (1, 1) and firsts[2].conv2.conv.stride == (1, 1)
    # caffe style: the stride sits on the 1x1 conv, so there is nothing to pool (mmseg).
    caffe = ResNet(50, radix=2, avg_down_stride=True, style='caffe', **TINY)
    assert all(b.avd_layer is None for name in caffe.res_layers for b in getattr(caffe, name))
    assert caffe.layer2[0].conv1.stride == (2, 2)


# Backbone sections of mmseg 1.x configs (fcn, pspnet, deeplabv3, upernet, danet, encnet,
# fastfcn, resnest), as mmengine merges them, with the channels and strides mmseg gives.
MMSEG_D8 = dict(
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    dilations=(1, 1, 2, 4),
    strides=(1, 2, 1, 1),
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    norm_eval=False,
    style='pytorch',
    contract_dilation=True,
)
MMSEG_BACKBONES = [
    (dict(type='ResNetV1c', depth=50, **MMSEG_D8), (256, 512, 1024, 2048), (4, 8, 8, 8)),
    (dict(type='ResNetV1c', depth=18, **MMSEG_D8), (64, 128, 256, 512), (4, 8, 8, 8)),
    (
        dict(type='ResNetV1c', depth=101, **MMSEG_D8 | dict(dilations=(1, 1, 1, 2), strides=(1, 2, 2, 1))),
        (256, 512, 1024, 2048),
        (4, 8, 16, 16),
    ),
    (
        dict(type='ResNetV1c', depth=50, multi_grid=(1, 2, 4), **MMSEG_D8 | dict(dilations=(1, 1, 1, 2))),
        (256, 512, 1024, 2048),
        (4, 8, 8, 8),
    ),
    (
        dict(type='ResNet', depth=50, **MMSEG_D8 | dict(dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))),
        (256, 512, 1024, 2048),
        (4, 8, 16, 32),
    ),
    (
        dict(
            type='ResNeSt',
            depth=101,
            stem_channels=128,
            radix=2,
            reduction_factor=4,
            avg_down_stride=True,
            **MMSEG_D8,
        ),
        (256, 512, 1024, 2048),
        (4, 8, 8, 8),
    ),
]


@pytest.mark.parametrize('cfg,channels,strides', MMSEG_BACKBONES)
def test_mmseg_config_backbones_build(cfg, channels, strides):
    with DefaultScope.overwrite_default_scope('segtools'), torch.device('meta'):
        model = MODELS.build(dict(cfg, pretrained=None))
    assert model.out_channels == channels and model.out_strides == strides
