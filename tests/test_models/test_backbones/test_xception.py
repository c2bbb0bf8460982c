"""Xception-65: shapes, strides and dilations per output stride, layer count, backward, freezing."""

import math

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

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


def _stages(model: Xception65) -> list[list[torch.nn.Module]]:
    """The documented freezing stages: stem, entry blocks 1 and 2, entry block 3 + middle flow, exit flow."""
    entry = model.entry_flow
    return [[model.stem], [entry[0]], [entry[1]], [entry[2], model.middle_flow], [model.exit_flow]]


@pytest.mark.parametrize('frozen_stages', [-1, 0, 3, 4])
def test_frozen_stages(frozen_stages):
    model = Xception65(frozen_stages=frozen_stages)
    # train() after eval() must not thaw the frozen stages.
    model.eval().train()
    stages = _stages(model)
    frozen = [m for stage in stages[: frozen_stages + 1] for m in stage]
    free = [m for stage in stages[frozen_stages + 1 :] for m in stage]
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    params = list(model.parameters())
    # The stages cover every parameter, so frozen_stages=4 freezes the whole backbone.
    assert params and {id(p) for p in params} == frozen_ids | {id(p) for m in free for p in m.parameters()}
    assert all(p.requires_grad == (id(p) not in frozen_ids) for p in params)
    assert all(not m.training for module in frozen for m in module.modules())
    assert all(m.training for module in free for m in module.modules())
    assert model.training


def test_frozen_stages_get_no_gradients():
    model = Xception65(frozen_stages=2, out_indices=(1, 3)).train()
    frozen_modules = [m for stage in _stages(model)[:3] for module in stage for m in module.modules()]
    frozen_norms = [m for m in frozen_modules if isinstance(m, _BatchNorm)]
    assert frozen_norms
    before = [m.running_mean.clone() for m in frozen_norms]
    outs = model(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    frozen = {id(p) for m in frozen_modules for p in m.parameters(recurse=False)}
    assert frozen
    for p in model.parameters():
        if id(p) in frozen:
            assert p.grad is None
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all()
    # Frozen norms normalise with (and keep) their running statistics.
    for m, b in zip(frozen_norms, before, strict=True):
        torch.testing.assert_close(m.running_mean, b)


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_keeps_running_stats(norm_eval):
    model = Xception65(norm_eval=norm_eval, out_indices=(3,)).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(m.training != norm_eval for m in norms)
    before = [m.running_mean.clone() for m in norms]
    model(torch.randn(2, 3, 32, 32))
    unchanged = [torch.equal(m.running_mean, b) for m, b in zip(norms, before, strict=True)]
    # Without norm_eval the same forward updates every running mean: the check can fail.
    assert all(unchanged) if norm_eval else not any(unchanged)
    assert model.training and model.middle_flow.training


@pytest.mark.parametrize('frozen_stages', [-2, 5])
def test_frozen_stages_out_of_range(frozen_stages):
    with pytest.raises(ValueError, match=r'frozen_stages must be in -1\.\.4'):
        Xception65(frozen_stages=frozen_stages)
