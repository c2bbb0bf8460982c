"""FPN neck (mmseg semantics): declared channels/strides, top-down sum, extra levels."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from segtools.models.necks.fpn import FPN
from segtools.registry import MODELS

IN_CHANNELS = (4, 8, 16, 32)
IN_STRIDES = (4, 8, 16, 32)


def _pyramid(size=32, strides=IN_STRIDES, batch=2):
    return tuple(torch.randn(batch, c, -(-size // s), -(-size // s)) for c, s in zip(IN_CHANNELS, strides, strict=True))


@pytest.mark.parametrize(
    'kwargs, strides',
    [
        (dict(num_outs=4), (4, 8, 16, 32)),
        (dict(num_outs=5), (4, 8, 16, 32, 64)),
        (dict(num_outs=6, add_extra_convs=True), (4, 8, 16, 32, 64, 128)),
        (dict(num_outs=5, add_extra_convs='on_lateral'), (4, 8, 16, 32, 64)),
        (dict(num_outs=6, add_extra_convs='on_output', relu_before_extra_convs=True), (4, 8, 16, 32, 64, 128)),
        (dict(num_outs=4, start_level=1), (8, 16, 32, 64)),
        (dict(num_outs=2, start_level=1, end_level=3), (8, 16)),
        (dict(num_outs=4, in_strides=(4, 8, 8, 8), norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')), (4, 8, 8, 8)),
    ],
)
def test_shapes_match_declaration(kwargs, strides):
    size = 64
    neck = FPN(IN_CHANNELS, 6, **kwargs)
    assert neck.out_strides == strides
    assert neck.out_channels == (6,) * kwargs['num_outs']
    outs = neck(_pyramid(size, kwargs.get('in_strides', IN_STRIDES)))
    assert len(outs) == kwargs['num_outs']
    for out, stride in zip(outs, strides, strict=True):
        assert out.shape == (2, 6, -(-size // stride), -(-size // stride))  # ceil: 64 / 128 -> 1


def test_top_down_sum_matches_formula():
    """out_i = conv3x3(lateral_i + upsample(top-down sum above)), no norm/act."""
    neck = FPN(IN_CHANNELS, 3, num_outs=5).double()
    inputs = tuple(x.double() for x in _pyramid(30))  # odd sizes: 8, 4, 2, 1
    outs = neck(inputs)
    laterals = [F.conv2d(x, m.conv.weight, m.conv.bias) for x, m in zip(inputs, neck.lateral_convs, strict=True)]
    for i in range(3, 0, -1):
        laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], mode='nearest')
    expected = [
        F.conv2d(x, m.conv.weight, m.conv.bias, padding=1) for x, m in zip(laterals, neck.fpn_convs, strict=True)
    ]
    expected.append(expected[-1][:, :, ::2, ::2])  # 1x1 max pool, stride 2
    assert len(outs) == len(expected) == 5
    for out, ref in zip(outs, expected, strict=True):
        torch.testing.assert_close(out, ref)


def test_extra_convs_sources_and_backward():
    neck = FPN(IN_CHANNELS, 6, num_outs=6, add_extra_convs=True)
    assert [m.conv.in_channels for m in neck.extra_convs] == [32, 6]
    assert FPN(IN_CHANNELS, 6, num_outs=6, add_extra_convs='on_output').extra_convs[0].conv.in_channels == 6
    assert len(FPN(IN_CHANNELS, 6, num_outs=6).extra_convs) == 0
    outs = neck(_pyramid())
    sum(o.mean() for o in outs).backward()
    grads = [p.grad for p in neck.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_scale_factor_upsampling():
    neck = FPN(IN_CHANNELS, 6, num_outs=4, upsample_cfg=dict(scale_factor=2, mode='nearest'))
    assert [o.shape[-1] for o in neck(_pyramid(32))] == [8, 4, 2, 1]


def test_invalid_arguments():
    with DefaultScope.overwrite_default_scope('segtools'):
        assert isinstance(MODELS.build(dict(type='FPN', in_channels=IN_CHANNELS, out_channels=6, num_outs=4)), FPN)
        with pytest.raises(TypeError, match='num_out'):
            MODELS.build(dict(type='FPN', in_channels=IN_CHANNELS, out_channels=6, num_out=4))
    for kwargs, match in [
        (dict(num_outs=3), 'num_outs'),
        (dict(num_outs=4, start_level=4), 'start_level'),
        (dict(num_outs=3, start_level=1, end_level=3), 'num_outs'),
        (dict(num_outs=2, start_level=1, end_level=5), 'end_level'),
        (dict(num_outs=5, add_extra_convs='on_top'), 'add_extra_convs'),
        (dict(num_outs=4, in_strides=(4, 8)), 'in_strides'),
    ]:
        with pytest.raises(ValueError, match=match):
            FPN(IN_CHANNELS, 6, **kwargs)
    with pytest.raises(ValueError, match='expected 4 inputs'):
        FPN(IN_CHANNELS, 6, num_outs=4)(_pyramid()[:3])
