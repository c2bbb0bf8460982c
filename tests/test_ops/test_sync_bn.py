"""SyncBN kernels and sync_batch_norm vs F.batch_norm + activation (single process).

The two-process tests are in tests/test_models/test_layers/test_sync_bn_dist.py.
"""

import pytest
import torch
import torch.nn.functional as F

from segtools.ops.sync_bn import ACTIVATIONS, TORCH_KERNELS, sync_batch_norm, sync_batch_norm_reference

from .conftest import DEVICES

ACTS = ['identity', 'relu', 'leaky_relu']
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-4)}
SHAPES = [(4, 3), (3, 5, 7), (2, 3, 5, 6), (2, 3, 2, 3, 4), (2, 1, 5, 5), (2, 33, 3, 3), (5, 3, 1), (1, 3, 9)]


def _data(shape, dtype, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    C = shape[1]
    # An offset far from 0 and unequal scales make the statistics non-trivial.
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 2.5 + 3.0
    weight = torch.rand(C, generator=gen, dtype=torch.float64) + 0.5
    weight[::2] *= -1
    bias = torch.randn(C, generator=gen, dtype=torch.float64)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    return [t.to(dtype=dtype, device=device) for t in (x, weight, bias, grad)]


def _run(fn, x, weight, bias, grad, **kwargs):
    """Runs fn on fresh leaves; returns output, grads and the running statistics."""
    C = x.shape[1]
    x = x.clone().requires_grad_()
    w = weight.clone().requires_grad_()
    b = bias.clone().requires_grad_()
    running_mean = torch.linspace(-1, 1, C, dtype=x.dtype, device=x.device)
    running_var = torch.linspace(0.5, 2, C, dtype=x.dtype, device=x.device)
    inp = x * 1  # a non-leaf, so in-place variants are allowed
    y = fn(inp, running_mean, running_var, w, b, **kwargs)
    y_copy = y.detach().clone()
    (y * grad).sum().backward()
    return dict(
        y=y_copy, grad_x=x.grad, grad_w=w.grad, grad_b=b.grad, running_mean=running_mean, running_var=running_var
    )


def _assert_close(got, expected, dtype):
    assert got.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], **TOL[dtype], msg=lambda m, k=key: f'{k}: {m}')


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('shape', [(2, 3, 5), (1, 1, 7), (4, 33, 1), (3, 4, 130)])
def test_stats_kernel(require_ext, device, dtype, shape):
    from segtools.ops._ext import get_ext

    ext = get_ext('sync_bn', torch.device(device))
    x = (torch.randn(shape, dtype=torch.float64) * 1e-2 + 1e3).to(dtype=dtype, device=device)
    mean, m2 = ext.sync_bn_stats(x)
    x64 = x.double()
    expected_mean = x64.mean(dim=(0, 2))
    expected_m2 = (x64 - expected_mean[:, None]).square().sum(dim=(0, 2))
    torch.testing.assert_close(mean, expected_mean.to(dtype), **TOL[dtype])
    # A large offset with a small spread: a naive E[x^2] - E[x]^2 loses every digit here.
    torch.testing.assert_close(m2, expected_m2.to(dtype), rtol=TOL[dtype]['rtol'], atol=1e-10)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize(
    'activation, saved_is_output',
    [('identity', False), ('relu', False), ('leaky_relu', False), ('identity', True), ('leaky_relu', True)],
)
def test_kernels_match_torch_kernels(require_ext, device, dtype, activation, saved_is_output):
    """Each compiled kernel against its plain-PyTorch twin, including saved_is_output."""
    from segtools.ops._ext import get_ext

    ext = get_ext('sync_bn', torch.device(device))
    x, weight, bias, grad = _data((3, 5, 11), dtype, device)
    act, slope = ACTIVATIONS[activation], 0.2
    mean, m2 = ext.sync_bn_stats(x)
    invstd = torch.rsqrt(m2 / 33 + 1e-5)
    y = ext.sync_bn_forward(x, mean, invstd, weight, bias, act, slope, False)
    torch.testing.assert_close(
        y, TORCH_KERNELS.sync_bn_forward(x, mean, invstd, weight, bias, act, slope, False), **TOL[dtype]
    )
    saved = y if saved_is_output else x
    args = (grad, saved, mean, invstd, weight, bias)
    got = ext.sync_bn_backward_reduce(*args, act, slope, saved_is_output)
    expected = TORCH_KERNELS.sync_bn_backward_reduce(*args, act, slope, saved_is_output)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, **TOL[dtype])
    mean_dz, mean_dz_xhat = torch.randn(2, 5, dtype=dtype, device=device)
    got = ext.sync_bn_backward_elemt(*args, mean_dz, mean_dz_xhat, act, slope, saved_is_output)
    expected = TORCH_KERNELS.sync_bn_backward_elemt(*args, mean_dz, mean_dz_xhat, act, slope, saved_is_output)
    torch.testing.assert_close(got, expected, **TOL[dtype])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('activation', ACTS)
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('training', [True, False])
def test_forward_backward_vs_reference(require_ext, device, dtype, activation, shape, training):
    data = _data(shape, dtype, device)
    kwargs = dict(training=training, momentum=0.3, eps=1e-5, activation=activation, slope=0.1)
    got = _run(sync_batch_norm, *data, **kwargs)
    expected = _run(sync_batch_norm_reference, *data, **kwargs)
    _assert_close(got, expected, dtype)


@pytest.mark.parametrize('activation', ['identity', 'leaky_relu'])
@pytest.mark.parametrize('training', [True, False])
def test_inplace_abn_matches_bn_and_activation(require_ext, activation, training):
    data = _data((2, 3, 5, 6), torch.float64, 'cpu')
    kwargs = dict(training=training, momentum=0.1, eps=1e-5, activation=activation, slope=0.01)
    got = _run(sync_batch_norm, *data, inplace=True, **kwargs)
    expected = _run(sync_batch_norm_reference, *data, **kwargs)
    _assert_close(got, expected, torch.float64)


def test_inplace_abn_overwrites_input(require_ext):
    x, weight, bias, _ = _data((2, 3, 4, 5), torch.float64, 'cpu')
    inp = x.clone()
    ptr, version = inp.data_ptr(), inp._version
    out = sync_batch_norm(inp, None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01, inplace=True)
    assert out is inp and inp.data_ptr() == ptr
    assert inp._version > version  # autograd sees the write
    expected = sync_batch_norm_reference(x, None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01)
    torch.testing.assert_close(inp, expected, **TOL[torch.float64])


def test_inplace_abn_non_contiguous_input(require_ext):
    x, weight, bias, grad = _data((2, 3, 4, 5), torch.float64, 'cpu')
    base = x.clone().requires_grad_()
    inp = base.transpose(2, 3).contiguous().transpose(2, 3)  # a non-contiguous non-leaf with x's values
    assert not inp.is_contiguous()
    out = sync_batch_norm(inp, None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01, inplace=True)
    assert out is inp
    x_ref = x.clone().requires_grad_()
    expected = sync_batch_norm_reference(x_ref, None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01)
    torch.testing.assert_close(out, expected, **TOL[torch.float64])
    (out * grad).sum().backward()
    (expected * grad).sum().backward()
    torch.testing.assert_close(base.grad, x_ref.grad, **TOL[torch.float64])


def test_inplace_abn_zero_weight_has_finite_grads(require_ext):
    x, weight, bias, grad = _data((2, 4, 3, 3), torch.float64, 'cpu')
    weight[1] = 0.0
    weight[2] = -1e-9
    got = _run(
        sync_batch_norm,
        x,
        weight,
        bias,
        grad,
        training=True,
        momentum=0.1,
        eps=1e-5,
        activation='leaky_relu',
        slope=0.01,
        inplace=True,
    )
    for key, value in got.items():
        assert torch.isfinite(value).all(), key
    # Channels with a regular weight are unaffected by the clamp.
    expected = _run(
        sync_batch_norm_reference,
        x,
        weight,
        bias,
        grad,
        training=True,
        momentum=0.1,
        eps=1e-5,
        activation='leaky_relu',
        slope=0.01,
    )
    for key in ('y', 'grad_x', 'grad_w', 'grad_b'):
        torch.testing.assert_close(
            got[key][:, [0, 3]] if got[key].dim() > 1 else got[key][[0, 3]],
            expected[key][:, [0, 3]] if expected[key].dim() > 1 else expected[key][[0, 3]],
            **TOL[torch.float64],
        )


def test_inplace_abn_trains(require_ext):
    """PyTorch-Encoding's in-place ABN threw in backward; ours must optimise."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    weight = torch.nn.Parameter(torch.ones(4))
    bias = torch.nn.Parameter(torch.zeros(4))
    params = [*conv.parameters(), weight, bias]
    opt = torch.optim.SGD(params, lr=0.1)
    x, target = torch.randn(4, 3, 6, 6), torch.randn(4, 4, 6, 6)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        y = sync_batch_norm(conv(x), None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01, inplace=True)
        loss = F.mse_loss(y, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize('make', ['transpose', 'slice', 'channels_last'])
def test_non_contiguous_input(require_ext, make):
    x, weight, bias, grad = _data((2, 3, 6, 6), torch.float64, 'cpu')
    if make == 'transpose':
        x_nc = x.transpose(2, 3).contiguous().transpose(2, 3)
    elif make == 'slice':
        x_nc = torch.cat([x, x], dim=3)[..., ::2]
        x = x_nc.contiguous()
    else:
        x_nc = x.contiguous(memory_format=torch.channels_last)
    assert not x_nc.is_contiguous()
    kwargs = dict(training=True, momentum=0.1, eps=1e-5, activation='relu')
    got = _run(sync_batch_norm, x_nc, weight, bias, grad, **kwargs)
    expected = _run(sync_batch_norm_reference, x, weight, bias, grad, **kwargs)
    _assert_close(got, expected, torch.float64)


def test_running_var_is_unbiased(require_ext):
    x, weight, bias, _ = _data((3, 2, 4), torch.float64, 'cpu')
    running_mean, running_var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    sync_batch_norm(x, running_mean, running_var, weight, bias, True, 0.25, 1e-5)
    xs = x.transpose(0, 1).reshape(2, -1)
    torch.testing.assert_close(running_mean, 0.25 * xs.mean(dim=1))
    torch.testing.assert_close(running_var, 0.75 + 0.25 * xs.var(dim=1, unbiased=True))


@pytest.mark.parametrize('activation', ACTS)
@pytest.mark.parametrize('training', [True, False])
def test_gradcheck(require_ext, activation, training):
    x, weight, bias, _ = _data((3, 2, 4), torch.float64, 'cpu')
    running_mean, running_var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64) * 2

    def fn(x, w, b):
        # Copies of the buffers: gradcheck runs fn many times.
        return sync_batch_norm(x, running_mean.clone(), running_var.clone(), w, b, training, 0.1, 1e-5, activation, 0.1)

    inputs = [t.clone().requires_grad_() for t in (x, weight, bias)]
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize('activation', ['identity', 'leaky_relu'])
def test_gradcheck_inplace(require_ext, activation):
    x, weight, bias, _ = _data((3, 2, 4), torch.float64, 'cpu')

    def fn(x, w, b):
        return sync_batch_norm(x.clone(), None, None, w, b, True, 0.1, 1e-5, activation, 0.1, inplace=True)

    inputs = [t.clone().requires_grad_() for t in (x, weight, bias)]
    assert torch.autograd.gradcheck(fn, inputs)


def test_affine_none_and_no_running_stats(require_ext):
    x, _, _, grad = _data((2, 3, 4), torch.float64, 'cpu')
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    y = sync_batch_norm(x_ours, None, None, None, None, True, None, 1e-5, 'relu')
    expected = sync_batch_norm_reference(x_ref, None, None, None, None, True, 0.1, 1e-5, 'relu')
    torch.testing.assert_close(y, expected)
    (y * grad).sum().backward()
    (expected * grad).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)


def test_autocast_computes_in_float32(require_ext):
    # In-place ABN (and shared statistics) under autocast: the kernels, in float32.
    x, weight, bias, _ = _data((2, 3, 4, 4), torch.float32, 'cpu')
    x_bf16 = x.bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = sync_batch_norm(x_bf16, None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu', 0.01, inplace=True)
    assert y.dtype == torch.float32
    expected = sync_batch_norm_reference(x_bf16.float(), None, None, weight, bias, True, 0.1, 1e-5, 'leaky_relu')
    torch.testing.assert_close(y, expected, **TOL[torch.float32])


@pytest.mark.parametrize('training', [True, False])
def test_autocast_keeps_local_low_precision_activations_with_float32_statistics(training):
    x, weight, bias, _ = _data((2, 3, 4, 4), torch.float32, 'cpu')
    x_bf16 = x.bfloat16().requires_grad_()
    running_mean, running_var = torch.randn(3).abs(), torch.rand(3) + 0.5
    ref_mean, ref_var, initial = running_mean.clone(), running_var.clone(), running_mean.clone()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = sync_batch_norm(x_bf16, running_mean, running_var, weight, bias, training, 0.1, 1e-5, 'relu')
    # No cast back and forth: the next convolution gets bfloat16; the statistics stay float32.
    assert y.dtype == torch.bfloat16 and running_mean.dtype == running_var.dtype == torch.float32
    args = (ref_mean, ref_var, weight, bias, training, 0.1, 1e-5, 'relu')
    expected = sync_batch_norm_reference(x_bf16.detach().float(), *args)
    torch.testing.assert_close(y.float(), expected, atol=0.05, rtol=0.02)
    torch.testing.assert_close(running_mean, ref_mean)
    torch.testing.assert_close(running_var, ref_var)
    assert training == (not torch.equal(running_mean, initial))  # updated in training only
    y.float().sum().backward()
    assert x_bf16.grad.dtype == torch.bfloat16 and torch.isfinite(x_bf16.grad.float()).all()


def test_autocast_low_precision_path_checks_its_arguments_as_the_kernels_do():
    x = torch.randn(2, 3, 4, 4).bfloat16()
    stats = (torch.zeros(3), torch.ones(3))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        with pytest.raises(ValueError, match='momentum must be a float'):
            sync_batch_norm(x, *stats, None, None, True, None, 1e-5)
        with pytest.raises(ValueError, match='activation must be one of'):
            sync_batch_norm(x, *stats, None, None, True, 0.1, 1e-5, 'gelu')
        with pytest.raises(ValueError, match=r'weight'):
            sync_batch_norm(x, *stats, torch.ones(4), None, True, 0.1, 1e-5)


@pytest.mark.parametrize('inplace', [False, True])
def test_missing_extension_falls_back_and_warns_once(missing_ext, inplace):
    data = _data((2, 3, 4, 5), torch.float64, 'cpu')
    kwargs = dict(training=True, momentum=0.1, eps=1e-5, activation='leaky_relu', slope=0.01)
    with pytest.warns(RuntimeWarning, match='segtools._ext is not built') as record:
        got = _run(sync_batch_norm, *data, inplace=inplace, **kwargs)
        _run(sync_batch_norm, *data, inplace=inplace, **kwargs)
    assert len([w for w in record if 'segtools._ext' in str(w.message)]) == 1
    expected = _run(sync_batch_norm_reference, *data, **kwargs)
    _assert_close(got, expected, torch.float64)


@pytest.mark.parametrize(
    'change, match',
    [
        (dict(x=torch.zeros(4)), r'x must be a tensor of shape \(N, C\)'),
        (dict(x=torch.zeros(1, 3, 1, 1, 1, 1)), r'x must be a tensor of shape \(N, C\)'),
        (dict(x=torch.zeros(2, 3, 4, dtype=torch.int64)), 'x must be float32 or float64'),
        (dict(weight=torch.ones(4)), r'weight must have shape \(C,\) with size 3'),
        (dict(bias=torch.ones(3, 1)), r'bias must have shape \(C,\)'),
        (dict(weight=torch.ones(3, dtype=torch.float64)), 'weight must have the dtype of x'),
        (dict(running_var=None), 'running_mean and running_var must both'),
        (dict(running_mean=torch.zeros(5)), r'running_mean must have shape \(C,\) with size 3'),
        (dict(training=False, running_mean=None, running_var=None), 'required when training=False'),
        (dict(momentum=None), 'momentum must be a float'),
        (dict(activation='gelu'), 'activation must be one of'),
        (dict(activation='relu', inplace=True), 'inplace=True needs an invertible activation'),
        (dict(activation='leaky_relu', slope=0.0, inplace=True), 'inplace=True needs an invertible activation'),
        (dict(x=torch.zeros(1, 3)), 'expected more than 1 value per channel'),
    ],
)
def test_invalid_arguments(change, match):
    args = dict(
        x=torch.zeros(2, 3, 4),
        running_mean=torch.zeros(3),
        running_var=torch.ones(3),
        weight=torch.ones(3),
        bias=torch.zeros(3),
        training=True,
        momentum=0.1,
        eps=1e-5,
    )
    args.update(change)
    with pytest.raises(ValueError, match=match):
        sync_batch_norm(**args)
