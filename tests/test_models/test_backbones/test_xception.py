"""Xception-65: shapes, strides and dilations per output stride, layer count, backward."""

import math

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.backbones.xception import Xception65
from segtools.registry import MODELS

CHANNELS = (128, 256, 728, 2048)


def _depthwise_dilations(module: torch.nn.Module) -> list[int]:
    return [m.dilation[0] for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]


@pytest.mark.parametrize(
    'output_stride, strides, middle_rate, exit_rates',
    # exit_rates: the exit block's units, then the three separable convs after it.
    [(8, (4, 8, 8, 8), 2, (2, 4)), (16, (4, 8, 16, 16), 1, (1, 2)), (32, (4, 8, 16, 32), 1, (1, 1))],
)
def test_shapes_strides_and_rates(output_stride, strides, middle_rate, exit_rates):
    model = Xception65(output_stride=output_stride).eval()
    assert model.out_channels == CHANNELS
    assert model.out_strides == strides
    middle = _depthwise_dilations(model.middle_flow)
    assert len(middle) == 16 * 3 and set(middle) == {middle_rate}
    assert _depthwise_dilations(model.exit_flow[0]) == [exit_rates[0]] * 3
    assert _depthwise_dilations(model.exit_flow[1:]) == [exit_rates[1]] * 3
    size = 64
    with torch.no_grad():
        outs = model(torch.randn(1, 3, size, size))
    assert len(outs) == 4
    for out, channels, stride in zip(outs, CHANNELS, strides, strict=True):
        assert out.shape == (1, channels, size // stride, size // stride)
    assert (outs[-1] >= 0).all()  # the exit flow ends with the activation


def test_sixty_five_layers_and_odd_input_backward():
    model = Xception65(out_indices=(0, 3))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    depthwise = [m for m in convs if m.groups > 1]
    # 2 stem convs + 3 separable convs in each of 20 blocks + 3 in the exit flow.
    assert len(depthwise) == 3 * 20 + 3
    assert len([m for m in convs if m.kernel_size == (3, 3) and m.groups == 1]) == 2
    assert all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert model.out_channels == (128, 2048) and model.out_strides == (4, 16)
    # Every stride-2 layer (3x3, padding = dilation) rounds up: 33 -> 17 -> 9 -> 5 -> 3.
    outs = model(torch.randn(1, 3, 33, 33))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 9, 9), (1, 2048, math.ceil(33 / 16), math.ceil(33 / 16))]
    sum(o.mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_shortcut_sees_input_before_activation():
    """The first unit's activation must not overwrite the block input (shortcut)."""
    model = Xception65(act_cfg=dict(type='ReLU', inplace=True)).eval()
    block = model.middle_flow[0]
    x = torch.randn(1, 728, 4, 4)
    with torch.no_grad():
        expected = block.units(x.clone()) + x
        torch.testing.assert_close(block(x), expected)
    assert (x < 0).any()


def test_registry_and_invalid_arguments():
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(dict(type='Xception65', output_stride=8, out_indices=(2, 3)))
        assert isinstance(model, Xception65) and model.out_strides == (8, 8)
        with pytest.raises(TypeError, match='output_strides'):
            MODELS.build(dict(type='Xception65', output_strides=8))
    for kwargs, match in [
        (dict(output_stride=4), 'output_stride'),
        (dict(out_indices=(3, 1)), 'out_indices'),
        (dict(out_indices=(4,)), 'out_indices'),
        (dict(out_indices=()), 'out_indices'),
    ]:
        with pytest.raises(ValueError, match=match):
            Xception65(**kwargs)
