"""WideResNet-38/50: shapes and strides, in-place ABN gradients, parameter counts, freezing."""

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from segtools.models.backbones.wide_resnet import WIDE_RESNET_CHANNELS, WideResNet
from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.registry import MODELS

NARROW = ((4, 4), (8, 8), (8, 8), (8, 16), (8, 16, 32), (16, 32, 64))
BLOCKS = {38: (3, 3, 6, 3, 1, 1), 50: (3, 3, 6, 6, 3, 1)}


def _abn(inplace: bool) -> dict:
    return dict(type='SyncBN', activation='leaky_relu', slope=0.01, inplace=inplace)


def _narrow(**kwargs) -> WideResNet:
    kwargs.setdefault('stem_channels', 4)
    kwargs.setdefault('stage_channels', NARROW)
    with DefaultScope.overwrite_default_scope('segtools'):
        return WideResNet(**kwargs)


@pytest.mark.parametrize('depth', [38, 50])
@pytest.mark.parametrize(
    'output_stride, strides', [(8, (2, 4, 8, 8, 8, 8)), (16, (2, 4, 8, 16, 16, 16)), (32, (2, 4, 8, 16, 32, 32))]
)
def test_shapes_and_strides(depth, output_stride, strides):
    model = _narrow(depth=depth, output_stride=output_stride, out_indices=range(6))
    assert model.out_strides == strides
    assert model.out_channels == tuple(c[-1] for c in NARROW)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    # One norm before each conv of every block, plus bn_out; all in-place ABN.
    assert len(norms) == sum(n * len(c) for n, c in zip(BLOCKS[depth], NARROW, strict=True)) + 1
    assert all(isinstance(m, SyncBatchNorm) and m.inplace and m.activation == 'leaky_relu' for m in norms)
    size = 32
    outs = model(torch.randn(2, 3, size, size))
    assert len(outs) == 6
    for out, channels, stride in zip(outs, model.out_channels, model.out_strides, strict=True):
        assert out.shape == (2, channels, size // stride, size // stride)


def test_default_outputs_and_odd_size():
    model = _narrow()
    assert model.out_indices == (3, 5)
    assert model.out_channels == (16, 64) and model.out_strides == (8, 8)
    # Every stride-2 layer (3x3 conv or pool, padding 1; 1x1 conv) rounds up.
    outs = model(torch.randn(2, 3, 19, 21))
    assert [o.shape[-2:] for o in outs] == [(3, 3)] * 2


def test_forward_backward_no_nan():
    model = _narrow(depth=38)
    outs = model(torch.randn(2, 3, 16, 16))
    sum(o.square().mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('norm_eval', [False, True])
@pytest.mark.parametrize('depth', [38, 50])
def test_in_place_abn_matches_out_of_place(depth, norm_eval):
    """In-place ABN must give the same outputs and gradients as the plain layer.

    All six stages are returned, so a stage output that a later in-place ABN
    overwrote (or an identity shortcut read after its input was overwritten) would
    show up as a mismatch. Dropout draws the same masks from the same seed. With
    ``norm_eval`` the in-place backward recovers its input through the running
    statistics instead of the batch ones.
    """
    torch.manual_seed(0)
    models = {
        inplace: _narrow(depth=depth, out_indices=range(6), norm_cfg=_abn(inplace), norm_eval=norm_eval)
        .double()
        .train()
        for inplace in (True, False)
    }
    models[False].load_state_dict(models[True].state_dict())
    norms = [m for model in models.values() for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(m.training != norm_eval for m in norms)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    results = {}
    for inplace, model in models.items():
        torch.manual_seed(1)
        xi = x.clone().requires_grad_()
        outs = model(xi)
        torch.manual_seed(2)
        loss = sum((o * torch.randn_like(o)).sum() for o in outs)
        loss.backward()
        results[inplace] = (outs, xi.grad, {n: p.grad for n, p in model.named_parameters()})
    (outs_a, gx_a, gp_a), (outs_b, gx_b, gp_b) = results[True], results[False]
    assert len(outs_a) == 6
    for a, b in zip(outs_a, outs_b, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(gx_a, gx_b)
    assert gp_a.keys() == gp_b.keys() and gp_a
    for name in gp_a:
        torch.testing.assert_close(gp_a[name], gp_b[name], msg=name)
    for (name, a), b in zip(models[True].named_buffers(), models[False].buffers(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def _expected_params(depth: int, stem: int = 64) -> int:
    """Counts parameters from the architecture: convs have no bias, each norm 2*C."""
    total, cin = 3 * stem * 9, stem
    for num_blocks, widths, stride in zip(BLOCKS[depth], WIDE_RESNET_CHANNELS, (1, 1, 2, 2, 2, 1), strict=True):
        kernels = (3, 3) if len(widths) == 2 else (1, 3, 1)
        for b in range(num_blocks):
            block_in = cin if b == 0 else widths[-1]
            ins = (block_in, *widths[:-1])
            total += sum(2 * c for c in ins)  # the norm before each conv
            total += sum(k * k * i * o for k, i, o in zip(kernels, ins, widths, strict=True))
            if b == 0 and (stride != 1 or block_in != widths[-1]):
                total += block_in * widths[-1]
        cin = widths[-1]
    return total + 2 * cin  # bn_out


@pytest.mark.parametrize('depth', [38, 50])
def test_published_widths_on_meta_device(depth):
    with torch.device('meta'), DefaultScope.overwrite_default_scope('segtools'):
        model = WideResNet(depth, out_indices=(0, 1, 2, 3, 4, 5))
    assert model.out_channels == (128, 256, 512, 1024, 2048, 4096)
    assert sum(p.numel() for p in model.parameters()) == _expected_params(depth)
    num_blocks = sum(len(getattr(model, f'mod{i}')) for i in range(2, 8))
    assert num_blocks == sum(BLOCKS[depth])
    # PyTorch-Encoding's state-dict layout.
    keys = model.state_dict().keys()
    assert {'mod1.weight', 'mod2.0.bn1.weight', 'mod2.0.downsample.0.weight', 'mod7.0.conv3.weight'} <= keys
    assert 'bn_out.running_var' in keys


def test_plain_norm_needs_act_cfg():
    with pytest.raises(ValueError, match='act_cfg'):
        _narrow(norm_cfg=dict(type='BN'))
    model = _narrow(norm_cfg=dict(type='BN'), act_cfg=dict(type='LeakyReLU', negative_slope=0.01))
    assert not model.clone_outputs
    outs = model(torch.randn(2, 3, 16, 16))
    assert [o.shape[1] for o in outs] == [16, 64]


def test_registry_and_invalid_arguments():
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(dict(type='WideResNet', depth=38, stem_channels=4, stage_channels=NARROW))
        assert isinstance(model, WideResNet)
        with pytest.raises(TypeError, match='out_indice'):
            MODELS.build(dict(type='WideResNet', out_indice=(3,)))
    for kwargs, match in [
        (dict(depth=101), 'depth'),
        (dict(output_stride=4), 'output_stride'),
        (dict(out_indices=(5, 3)), 'out_indices'),
        (dict(out_indices=(6,)), 'out_indices'),
        (dict(stage_channels=NARROW[:5]), 'stage_channels'),
        (dict(stage_channels=((4,),) + NARROW[1:]), 'channels'),
    ]:
        with pytest.raises(ValueError, match=match):
            _narrow(**kwargs)


def _stages(model: WideResNet) -> list[list[torch.nn.Module]]:
    """The documented freezing stages: the stem mod1, then mod2..mod7 (the last with bn_out)."""
    stages = [[model.mod1]] + [[getattr(model, f'mod{i}')] for i in range(2, 8)]
    stages[-1].append(model.bn_out)
    return stages


@pytest.mark.parametrize('frozen_stages', [-1, 0, 3, 6])
def test_frozen_stages(frozen_stages):
    model = _narrow(frozen_stages=frozen_stages)
    # train() after eval() must not thaw the frozen stages.
    model.eval().train()
    stages = _stages(model)
    frozen = [m for stage in stages[: frozen_stages + 1] for m in stage]
    free = [m for stage in stages[frozen_stages + 1 :] for m in stage]
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    params = list(model.parameters())
    # The stages cover every parameter, so frozen_stages=6 freezes the whole backbone.
    assert params and {id(p) for p in params} == frozen_ids | {id(p) for m in free for p in m.parameters()}
    assert all(p.requires_grad == (id(p) not in frozen_ids) for p in params)
    assert all(not m.training for module in frozen for m in module.modules())
    assert all(m.training for module in free for m in module.modules())
    assert model.training


@pytest.mark.parametrize('norm_cfg', [_abn(True), _abn(False)])
def test_frozen_stages_get_no_gradients(norm_cfg):
    """Frozen in-place ABN runs in eval mode: the backward must still reach the free stages."""
    model = _narrow(frozen_stages=3, out_indices=(2, 5), norm_cfg=norm_cfg).train()
    frozen_modules = [m for stage in _stages(model)[:4] for module in stage for m in module.modules()]
    frozen_norms = [m for m in frozen_modules if isinstance(m, _BatchNorm)]
    assert frozen_norms
    before = [m.running_mean.clone() for m in frozen_norms]
    outs = model(torch.randn(2, 3, 16, 16))
    sum(o.square().mean() for o in outs).backward()
    frozen = {id(p) for m in frozen_modules for p in m.parameters(recurse=False)}
    assert frozen
    for p in model.parameters():
        if id(p) in frozen:
            assert p.grad is None
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all()
    for m, b in zip(frozen_norms, before, strict=True):
        torch.testing.assert_close(m.running_mean, b)


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_keeps_running_stats(norm_eval):
    model = _narrow(norm_eval=norm_eval).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(m.training != norm_eval for m in norms)
    before = [m.running_mean.clone() for m in norms]
    outs = model(torch.randn(2, 3, 16, 16))
    unchanged = [torch.equal(m.running_mean, b) for m, b in zip(norms, before, strict=True)]
    # Without norm_eval the same forward updates every running mean: the check can fail.
    assert all(unchanged) if norm_eval else not any(unchanged)
    assert model.training and model.mod2.training
    # In-place ABN in eval mode still backpropagates to every parameter.
    sum(o.square().mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('frozen_stages', [-2, 7])
def test_frozen_stages_out_of_range(frozen_stages):
    with pytest.raises(ValueError, match=r'frozen_stages must be in -1\.\.6'):
        _narrow(frozen_stages=frozen_stages)
