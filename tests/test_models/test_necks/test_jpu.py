"""JPU neck: declared channels/strides, pass-through levels, branches, registry."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from segtools.models.backbones.wide_resnet import WideResNet
from segtools.models.necks.jpu import JPU
from segtools.registry import MODELS


def _pyramid(channels, strides, size=32, batch=2):
    return tuple(torch.randn(batch, c, size // s, size // s) for c, s in zip(channels, strides, strict=True))


@pytest.mark.parametrize(
    'in_channels, in_strides, dilations',
    [((8, 16, 32), None, (1, 2, 4, 8)), ((4, 8, 16, 32), (4, 8, 16, 32), (1, 2)), ((8, 16, 32), (4, 8, 8), (1,))],
)
def test_shapes_match_declaration(in_channels, in_strides, dilations):
    neck = JPU(in_channels, 4, dilations=dilations, in_strides=in_strides)
    strides = in_strides or (4, 8, 16, 32)[-len(in_channels) :]
    assert neck.out_channels == in_channels[:-1] + (4 * len(dilations),)
    assert neck.out_strides == strides[:-1] + (strides[-3],)
    inputs = _pyramid(in_channels, strides)
    outs = neck(inputs)
    assert len(outs) == len(in_channels)
    for i, (out, c, s) in enumerate(zip(outs, neck.out_channels, neck.out_strides, strict=True)):
        assert out.shape == (2, c, 32 // s, 32 // s)
        if i < len(in_channels) - 1:
            assert out is inputs[i]


def test_fuses_only_last_three_levels_and_branch_rates():
    neck = JPU((4, 8, 16, 32), 4).eval()
    assert [m.conv.in_channels for m in neck.level_convs] == [32, 16, 8]  # deepest first, as FastFCN
    rates = [m.depthwise_conv.conv.dilation[0] for m in neck.dilation_convs]
    assert rates == [1, 2, 4, 8]
    assert all(m.depthwise_conv.conv.groups == 3 * 4 for m in neck.dilation_convs)
    inputs = _pyramid((4, 8, 16, 32), (4, 8, 16, 32))
    with torch.no_grad():
        feat = neck(inputs)[-1]
        changed = (torch.randn_like(inputs[0]), *inputs[1:])
        torch.testing.assert_close(neck(changed)[-1], feat)
        changed = (inputs[0], torch.randn_like(inputs[1]), *inputs[2:])
        assert not torch.allclose(neck(changed)[-1], feat)


def test_on_a_backbone_with_its_strides_and_backward():
    narrow = ((4, 4), (8, 8), (8, 8), (8, 16), (8, 16, 32), (16, 32, 64))
    with DefaultScope.overwrite_default_scope('segtools'):
        backbone = WideResNet(
            38,
            stem_channels=4,
            stage_channels=narrow,
            output_stride=32,
            out_indices=(2, 3, 4),
            norm_cfg=dict(type='SyncBN', activation='leaky_relu', inplace=True),
        )
        neck = MODELS.build(
            dict(type='JPU', in_channels=backbone.out_channels, channels=4, in_strides=backbone.out_strides)
        )
    assert neck.out_strides == (8, 16, 8) and neck.out_channels == (8, 16, 16)
    outs = neck(backbone(torch.randn(2, 3, 64, 64)))
    assert [o.shape[-1] for o in outs] == [64 // s for s in neck.out_strides]
    outs[-1].mean().backward()
    grads = [p.grad for p in neck.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_invalid_arguments():
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(TypeError, match='width'):
        MODELS.build(dict(type='JPU', in_channels=(8, 16, 32), width=4))
    with pytest.raises(ValueError, match='at least 3'):
        JPU((8, 16), 4)
    with pytest.raises(ValueError, match='in_strides'):
        JPU((8, 16, 32), 4, in_strides=(8, 16))
    with pytest.raises(ValueError, match='in_strides'):
        JPU((1,) * 6, 4)
    with pytest.raises(ValueError, match='expected 3 inputs'):
        JPU((8, 16, 32), 4)(_pyramid((8, 16), (8, 16)))


MMSEG_ARGS = dict(
    in_channels=(8, 16, 32),
    mid_channels=4,
    start_level=0,
    end_level=-1,
    dilations=(1, 2, 4, 8),
    align_corners=False,
    conv_cfg=None,
    norm_cfg=dict(type='BN'),
    act_cfg=dict(type='ReLU'),
    init_cfg=None,
)


def test_mmseg_arguments_build_mmsegs_neck():
    with DefaultScope.overwrite_default_scope('segtools'):
        neck = MODELS.build(dict(type='JPU', **MMSEG_ARGS))
    assert neck.channels == 4
    assert neck.fused_levels == [0, 1, 2] and neck.passed_levels == [0, 1]
    assert [m.conv.in_channels for m in neck.level_convs] == [8, 16, 32]  # finest first, as mmseg
    assert neck.out_channels == (8, 16, 16) and neck.out_strides == (8, 16, 8)
    inputs = _pyramid((8, 16, 32), (8, 16, 32))
    outs = neck.eval()(inputs)
    assert outs[0] is inputs[0] and outs[1] is inputs[1]
    # mmseg's forward written out: every level conv, resized to the first, concatenated in order.
    with torch.no_grad():
        feats = [conv(x) for conv, x in zip(neck.level_convs, inputs, strict=True)]
        feats = [feats[0]] + [F.interpolate(f, size=feats[0].shape[2:], mode='bilinear') for f in feats[1:]]
        expected = torch.cat([branch(torch.cat(feats, 1)) for branch in neck.dilation_convs], 1)
        torch.testing.assert_close(outs[2], expected)


def _reverse_blocks(tensor, num_blocks, dim):
    shape = tensor.shape
    blocks = tensor.reshape(*shape[:dim], num_blocks, shape[dim] // num_blocks, *shape[dim + 1 :])
    return blocks.flip(dim).reshape(shape)


def test_fastfcn_and_mmseg_orders_differ_by_a_permutation_only():
    fastfcn = JPU((8, 16, 32), 4, dilations=(1, 2)).eval()
    mmseg = JPU((8, 16, 32), mid_channels=4, dilations=(1, 2)).eval()
    for module in fastfcn.modules():  # non-trivial BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    state = {}
    for key, value in fastfcn.state_dict().items():
        if key.startswith('level_convs.'):
            index = int(key.split('.')[1])
            key = f'level_convs.{2 - index}.' + key.split('.', 2)[2]
        elif '.depthwise_conv.' in key and value.dim() >= 1:
            value = _reverse_blocks(value, 3, 0)
        elif key.endswith('pointwise_conv.conv.weight'):
            value = _reverse_blocks(value, 3, 1)
        state[key] = value
    mmseg.load_state_dict(state)
    inputs = _pyramid((8, 16, 32), (8, 16, 32))
    with torch.no_grad():
        torch.testing.assert_close(mmseg(inputs)[-1], fastfcn(inputs)[-1])


def test_mmseg_start_and_end_levels():
    neck = JPU((4, 8, 16, 32), mid_channels=4, start_level=1, dilations=(1,), in_strides=(4, 8, 16, 32))
    assert neck.fused_levels == [1, 2, 3] and neck.passed_levels == [1, 2]
    assert neck.out_channels == (8, 16, 4) and neck.out_strides == (8, 16, 8)
    inputs = _pyramid((4, 8, 16, 32), (4, 8, 16, 32))
    outs = neck(inputs)
    assert outs[0] is inputs[1] and outs[1] is inputs[2] and outs[2].shape == (2, 4, 4, 4)

    neck = JPU((4, 8, 16, 32), mid_channels=4, start_level=0, end_level=2, dilations=(1,), in_strides=(4, 8, 16, 32))
    assert neck.fused_levels == [0, 1] and neck.passed_levels == [0]
    assert neck.out_channels == (4, 4) and neck.out_strides == (4, 4)
    outs = neck(inputs)
    assert outs[0] is inputs[0] and outs[1].shape == (2, 4, 8, 8)


def test_mmseg_spelling_defaults_to_every_level():
    # mmseg's start_level=0: all four levels fused (the channels spelling fuses the last three).
    neck = JPU((4, 8, 16, 32), mid_channels=4, in_strides=(4, 8, 16, 32))
    assert neck.fused_levels == [0, 1, 2, 3] and neck.out_strides == (4, 8, 16, 4)
    assert JPU((4, 8, 16, 32), channels=4).fused_levels == [3, 2, 1]


def test_mmseg_arguments_refused_clearly():
    with pytest.raises(ValueError, match='both channels=4 and mid_channels=8'):
        JPU((8, 16, 32), 4, mid_channels=8)
    with pytest.raises(ValueError, match='end_level'):
        JPU((8, 16, 32), mid_channels=4, end_level=-2)
    with pytest.raises(ValueError, match='end_level'):
        JPU((8, 16, 32), mid_channels=4, end_level=4)
    with pytest.raises(ValueError, match='start_level'):
        JPU((8, 16, 32), mid_channels=4, start_level=2, end_level=2)
    with pytest.raises(ValueError, match='at least 3 levels before end_level'):
        JPU((8, 16, 32), 4, end_level=2)
