"""JPU neck: declared channels/strides, pass-through levels, branches, registry."""

import pytest
import torch
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
