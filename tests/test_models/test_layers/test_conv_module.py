"""ConvModule: SyncBN + ReLU as one kernel, everything else as mmcv's ConvModule, the same numbers."""

import pytest
import torch
from mmcv.cnn import ConvModule as MMCVConvModule
from torch import nn

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.sync_bn import SyncBatchNorm


def _pair(**kwargs) -> tuple[ConvModule, MMCVConvModule]:
    """Ours and mmcv's, with equal float64 weights (random norm affine and running statistics)."""
    args = dict(in_channels=3, out_channels=5, kernel_size=3, padding=1, **kwargs)
    torch.manual_seed(0)
    ours = ConvModule(**args).double()
    with torch.no_grad():
        for name, value in ours.state_dict().items():
            if value.is_floating_point() and name.startswith(('bn', 'gn')):
                value.uniform_(0.5, 1.5)
    ref = MMCVConvModule(**args).double()
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _norm_activations(module: ConvModule, monkeypatch) -> list:
    """The ``activation`` argument of every SyncBatchNorm call (None: the layer's own)."""
    calls = []
    forward = SyncBatchNorm.forward

    def spy(self, x, activation=None):
        calls.append(activation)
        return forward(self, x, activation)

    monkeypatch.setattr(SyncBatchNorm, 'forward', spy)
    return calls


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('inplace', [True, False])
def test_sync_bn_and_relu_fuse_with_mmcv_numbers(monkeypatch, training, inplace):
    ours, ref = _pair(norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='ReLU', inplace=inplace))
    assert isinstance(ours.norm, SyncBatchNorm) and isinstance(ref.norm, SyncBatchNorm)
    ours.train(training)
    ref.train(training)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    calls = _norm_activations(ours, monkeypatch)
    x_ours = x.clone().requires_grad_()
    y_ours = ours(x_ours)
    assert calls == ['relu']  # one fused call, no separate ReLU
    calls.clear()
    x_ref = x.clone().requires_grad_()
    y_ref = ref(x_ref)
    assert calls == [None]
    torch.testing.assert_close(y_ours, y_ref, rtol=1e-12, atol=1e-12)
    assert (y_ours == 0).any()  # the ReLU did clip
    grad = torch.randn_like(y_ref)
    y_ours.backward(grad)
    y_ref.backward(grad)
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    for (name, p_ours), p_ref in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, rtol=1e-12, atol=1e-12, msg=name)
    for name, value in ours.state_dict().items():  # running statistics updated alike
        torch.testing.assert_close(value, ref.state_dict()[name], msg=name)


@pytest.mark.parametrize(
    'kwargs, call',
    [
        (dict(norm_cfg=dict(type='BN')), {}),
        (dict(norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='LeakyReLU')), {}),
        (dict(norm_cfg=dict(type='SyncBN'), order=('conv', 'act', 'norm')), {}),
        (dict(norm_cfg=dict(type='SyncBN')), dict(activate=False)),
        (dict(norm_cfg=dict(type='SyncBN')), dict(norm=False)),
        (dict(norm_cfg=dict(type='SyncBN'), act_cfg=None), {}),
        (dict(norm_cfg=None), {}),
    ],
    ids=['bn', 'leaky_relu', 'act_before_norm', 'activate_false', 'norm_false', 'no_act', 'no_norm'],
)
def test_everything_else_is_mmcv_forward(monkeypatch, kwargs, call):
    ours, ref = _pair(**kwargs)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    calls = _norm_activations(ours, monkeypatch)
    y_ours = ours(x, **call)
    assert 'relu' not in calls
    torch.testing.assert_close(y_ours, ref(x, **call), rtol=1e-12, atol=1e-12)


def test_explicit_padding_is_applied_before_the_fused_pair(monkeypatch):
    ours, ref = _pair(norm_cfg=dict(type='SyncBN'), padding_mode='reflect')
    assert ours.with_explicit_padding and ours._fuses_norm_relu()
    calls = _norm_activations(ours, monkeypatch)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    assert calls == ['relu', None]


def test_same_state_dict_keys_as_mmcv():
    ours, ref = _pair(norm_cfg=dict(type='SyncBN'))
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert isinstance(ours, MMCVConvModule) and isinstance(ours.activate, nn.ReLU)
