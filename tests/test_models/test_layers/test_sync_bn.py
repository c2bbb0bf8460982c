"""SyncBatchNorm layer on one process: torch BatchNorm parity, registry and config use."""

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.registry import DefaultScope

from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.registry import MODELS

BATCH_NORMS = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}


def _activate(y, activation, slope):
    return {'identity': y, 'relu': F.relu(y), 'leaky_relu': F.leaky_relu(y, slope)}[activation]


def _pair(num_features, activation='identity', slope=0.01, inplace=False, dim=4, **kwargs):
    torch.manual_seed(0)
    ours = SyncBatchNorm(num_features, activation=activation, slope=slope, inplace=inplace, **kwargs).double()
    ref = BATCH_NORMS[dim](num_features, **kwargs).double()
    if ours.affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 1.5)
            ours.bias.normal_()
        ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize('shape', [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize(
    'activation, inplace',
    [('identity', False), ('relu', False), ('leaky_relu', False), ('leaky_relu', True), ('identity', True)],
)
@pytest.mark.parametrize('momentum', [0.1, None])
def test_matches_torch_batch_norm(shape, activation, inplace, momentum):
    ours, ref = _pair(shape[1], activation, 0.05, inplace, dim=len(shape), momentum=momentum)
    for step in range(3):
        x = torch.randn(shape, dtype=torch.float64) * 2 + step
        grad = torch.randn(shape, dtype=torch.float64)
        x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
        y = ours(x_ours * 1)
        expected = _activate(ref(x_ref), activation, 0.05)
        torch.testing.assert_close(y, expected)
        (y * grad).sum().backward()
        (expected * grad).sum().backward()
        torch.testing.assert_close(x_ours.grad, x_ref.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad)
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        torch.testing.assert_close(getattr(ours, name), getattr(ref, name), msg=name)
    ours.eval()
    ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x.clone()), _activate(ref(x), activation, 0.05))


@pytest.mark.parametrize('affine, track_running_stats', [(False, True), (True, False), (False, False)])
def test_affine_and_tracking_options(affine, track_running_stats):
    ours, ref = _pair(3, 'relu', affine=affine, track_running_stats=track_running_stats)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    for training in (True, False):
        ours.train(training)
        ref.train(training)
        torch.testing.assert_close(ours(x), F.relu(ref(x)))
    assert (ours.weight is None) == (not affine)
    assert (ours.running_mean is None) == (not track_running_stats)


def test_state_dict_is_batch_norm_compatible():
    ours = SyncBatchNorm(5, activation='leaky_relu', inplace=True)
    assert ours.state_dict().keys() == torch.nn.BatchNorm2d(5).state_dict().keys()


def test_extra_repr_and_invalid_arguments():
    text = repr(SyncBatchNorm(8, activation='leaky_relu', slope=0.02, inplace=True))
    assert 'activation=leaky_relu' in text and 'slope=0.02' in text and 'inplace=True' in text
    with pytest.raises(ValueError, match='activation must be one of'):
        SyncBatchNorm(8, activation='gelu')
    with pytest.raises(ValueError, match='needs an invertible activation'):
        SyncBatchNorm(8, activation='relu', inplace=True)
    with pytest.raises(TypeError, match='norm_eval'):
        SyncBatchNorm(8, norm_eval=True)
    layer = SyncBatchNorm(3)
    for shape in [(3,), (1, 3, 1, 1, 1, 1)]:
        with pytest.raises(ValueError, match=r'input must have shape \(N, C\)'):
            layer(torch.zeros(shape))


def test_registered_as_sync_batch_norm_and_sync_bn():
    assert MODELS.get('SyncBatchNorm') is SyncBatchNorm
    assert MODELS.get('SyncBN') is SyncBatchNorm


def test_build_norm_layer_in_segtools_scope():
    # overwrite_default_scope wraps DefaultScope.get_instance(..., scope_name='segtools') and
    # restores the previous scope afterwards, so other tests are not affected.
    with DefaultScope.overwrite_default_scope('segtools'):
        name, layer = build_norm_layer(dict(type='SyncBN'), 8)
        assert type(layer) is SyncBatchNorm and name == 'bn'
        _, abn = build_norm_layer(dict(type='SyncBatchNorm', activation='leaky_relu', inplace=True), 8)
    assert type(abn) is SyncBatchNorm and abn.inplace and abn.activation == 'leaky_relu'
    # On CPU and without torch.distributed it trains like a local batch norm.
    x = torch.randn(2, 8, 3, 3, requires_grad=True)
    abn(x * 1).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_conv_module_with_inplace_relu_trains():
    # mmcv's ConvModule follows the norm with ReLU(inplace=True): the SyncBN output must
    # be modifiable in place (it once was a view made inside the autograd Function).
    from mmcv.cnn import ConvModule
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('segtools'):
        block = ConvModule(3, 4, 3, padding=1, norm_cfg=dict(type='SyncBN'))
    assert isinstance(block.bn, SyncBatchNorm) and block.activate.inplace
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    block(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_activation_override_fuses_a_relu():
    torch.manual_seed(0)
    bn = SyncBatchNorm(3).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(bn(x, activation='relu'), F.relu(bn(x)))
    with pytest.raises(ValueError, match='activation'):
        bn(x, activation='gelu')


@pytest.mark.parametrize(
    'backbone',
    [
        dict(type='ResNetV1c', depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), stem_channels=16),
        dict(type='ResNetV1c', depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
        dict(type='ResNeSt', depth=50, stem_channels=16),
    ],
    ids=['r50-d8', 'r18-d8', 'resnest50'],
)
def test_model_with_sync_bn_equals_model_with_bn(backbone):
    """Same float64 outputs, gradients and running statistics (the blocks fuse norm + ReLU under SyncBN)."""
    import segtools.models.backbones  # noqa: F401  (registers the backbones)

    models = {}
    for norm in ('BN', 'SyncBN'):
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope('segtools'):
            models[norm] = MODELS.build(dict(backbone, norm_cfg=dict(type=norm, requires_grad=True))).double().train()
    models['SyncBN'].load_state_dict(models['BN'].state_dict())
    # 8 images: ResNeSt's split-attention norm sees one value per image (1x1 after pooling), and a
    # batch norm of 2 values amplifies rounding differences by 1 / |a - b|.
    x = torch.randn(8, 3, 32, 32, dtype=torch.float64)
    results = {}
    for norm, model in models.items():
        outputs = model(x)
        loss = sum((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum() for out in outputs)
        loss.backward()
        results[norm] = (outputs, {name: p.grad for name, p in model.named_parameters()})
    for out_bn, out_sync in zip(results['BN'][0], results['SyncBN'][0], strict=True):
        torch.testing.assert_close(out_sync, out_bn, rtol=1e-10, atol=1e-10)
    # Gradients are large in an untrained net (and a bias before a norm has a zero one, up to
    # rounding): compare against the largest of them.
    scale = max(grad.abs().max().item() for grad in results['BN'][1].values())
    for name, grad in results['BN'][1].items():
        torch.testing.assert_close(results['SyncBN'][1][name], grad, rtol=1e-9, atol=1e-11 * scale, msg=name)
    buffers = dict(models['SyncBN'].named_buffers())
    for name, buffer in models['BN'].named_buffers():
        torch.testing.assert_close(buffers[name], buffer, rtol=1e-10, atol=1e-10, msg=name)
