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
