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
