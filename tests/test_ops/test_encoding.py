"""Kernels of scaled_l2 / aggregate against their broadcasting references."""

import pytest
import torch

from segtools.ops import encoding as enc
from segtools.ops.encoding import aggregate, aggregate_reference, scaled_l2, scaled_l2_reference

from .conftest import DEVICES

# (B, N, K, D): single elements, K = 1, tiny D, odd sizes, and a K, D wider than a warp.
SHAPES = [(1, 1, 1, 1), (2, 7, 1, 3), (3, 33, 5, 3), (2, 17, 32, 64)]
# How X is laid out: contiguous (B, N, D); the layer's transposed view of a contiguous
# (B, D, N); a strided slice (neither, so the op copies).
LAYOUTS = ['contiguous', 'channels_first', 'strided']
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}


def make_x(B: int, N: int, D: int, layout: str, dtype: torch.dtype, device: str) -> torch.Tensor:
    if layout == 'contiguous':
        X = torch.randn(B, N, D, dtype=dtype, device=device)
    elif layout == 'channels_first':
        X = torch.randn(B, D, N, dtype=dtype, device=device).transpose(1, 2)
    else:
        X = torch.randn(B, 2 * N, D + 1, dtype=dtype, device=device)[:, ::2, 1:]
    return X.requires_grad_()


def make_codes(K: int, D: int, dtype: torch.dtype, device: str, transposed: bool) -> torch.Tensor:
    # A transposed codeword matrix exercises the dispatcher's .contiguous().
    C = (
        torch.randn(D, K, dtype=dtype, device=device).t()
        if transposed
        else torch.randn(K, D, dtype=dtype, device=device)
    )
    return C.requires_grad_()


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    # The GEMM identities lose accuracy relative to the size of the terms they cancel, not
    # to the result, so the absolute tolerance scales with the largest expected value.
    rtol = TOLERANCE[dtype]
    atol = rtol * max(1.0, expected.abs().max().item())
    assert not torch.isnan(actual).any()
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)


def check_against_reference(op, reference, inputs, dtype) -> None:
    out = op(*inputs)
    # The reference runs in float64 so that the float32 kernel is judged against the truth.
    ref_inputs = [t.detach().double().requires_grad_() for t in inputs]
    expected = reference(*ref_inputs)
    grad_out = torch.randn_like(expected)
    grads = torch.autograd.grad(out, inputs, grad_out.to(dtype))
    expected_grads = torch.autograd.grad(expected, ref_inputs, grad_out)
    assert out.dtype == dtype
    assert_close(out, expected.to(dtype), dtype)
    for grad, expected_grad, x in zip(grads, expected_grads, inputs, strict=True):
        assert grad.shape == x.shape
        assert_close(grad, expected_grad.to(dtype), dtype)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('layout', LAYOUTS)
def test_scaled_l2_matches_reference(require_ext, device, dtype, shape, layout):
    torch.manual_seed(0)
    B, N, K, D = shape
    X = make_x(B, N, D, layout, dtype, device)
    C = make_codes(K, D, dtype, device, transposed=layout == 'strided')
    S = torch.randn(2 * K, dtype=dtype, device=device)[::2].requires_grad_()
    check_against_reference(scaled_l2, scaled_l2_reference, [X, C, S], dtype)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('layout', LAYOUTS)
def test_aggregate_matches_reference(require_ext, device, dtype, shape, layout):
    torch.manual_seed(0)
    B, N, K, D = shape
    X = make_x(B, N, D, layout, dtype, device)
    C = make_codes(K, D, dtype, device, transposed=layout == 'strided')
    A = (
        torch.randn(B, K, N, dtype=dtype, device=device).transpose(1, 2)
        if layout == 'strided'
        else torch.randn(B, N, K, dtype=dtype, device=device)
    )
    check_against_reference(aggregate, aggregate_reference, [A.requires_grad_(), X, C], dtype)


@pytest.mark.parametrize('device', DEVICES)
def test_grad_x_keeps_the_layout_of_x(require_ext, device):
    # The Encoding layer passes a transposed (B, D, N) view; its gradient should come back
    # in that layout so the layer's input gradient needs no copy.
    X = make_x(2, 5, 3, 'channels_first', torch.float64, device)
    C, S = torch.randn(4, 3, dtype=torch.float64, device=device), torch.randn(4, dtype=torch.float64, device=device)
    A = torch.rand(2, 5, 4, dtype=torch.float64, device=device)
    for out in (scaled_l2(X, C, S), aggregate(A, X, C)):
        (grad,) = torch.autograd.grad(out.sum(), X)
        assert grad.transpose(1, 2).is_contiguous()


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_scaled_l2_zero_scale(require_ext, device, dtype):
    # The original kernel computed grad_S as sum(g * SL) / S: NaN or inf at S = 0.
    torch.manual_seed(0)
    X = make_x(2, 9, 6, 'contiguous', dtype, device)
    C = make_codes(4, 6, dtype, device, transposed=False)
    S = torch.tensor([0.0, -0.5, 0.0, 1.0], dtype=dtype, device=device).requires_grad_()
    out = scaled_l2(X, C, S)
    assert (out[..., 0] == 0).all() and (out[..., 2] == 0).all()
    (grad_S,) = torch.autograd.grad(out.sum(), S)
    assert torch.isfinite(grad_S).all()
    # d/dS[k] of sum(SL) is the summed squared distance to codeword k, whatever S[k] is.
    expected = (X.detach().double().unsqueeze(2) - C.detach().double()).pow(2).sum(dim=(0, 1, 3))
    assert_close(grad_S, expected.to(dtype), dtype)


def test_gradcheck_scaled_l2(require_ext):
    torch.manual_seed(0)
    X = make_x(2, 5, 3, 'channels_first', torch.float64, 'cpu')
    C = make_codes(4, 3, torch.float64, 'cpu', transposed=False)
    S = torch.randn(4, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(scaled_l2, (X, C, S))


def test_gradcheck_aggregate(require_ext):
    torch.manual_seed(0)
    X = make_x(2, 5, 3, 'channels_first', torch.float64, 'cpu')
    C = make_codes(4, 3, torch.float64, 'cpu', transposed=False)
    A = torch.randn(2, 5, 4, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(aggregate, (A, X, C))


def test_kernel_path_is_used(require_ext, monkeypatch):
    # Guards the tests above: a silent fallback to the reference would make them vacuous.
    monkeypatch.setattr(enc, 'scaled_l2_reference', None)
    monkeypatch.setattr(enc, 'aggregate_reference', None)
    X, C = torch.randn(1, 3, 2), torch.randn(2, 2)
    aggregate(scaled_l2(X, C, torch.ones(2)).softmax(2), X, C)


def test_autocast_computes_in_float32(require_ext):
    torch.manual_seed(0)
    X, C, S, A = torch.randn(2, 9, 6), torch.randn(4, 6), torch.randn(4), torch.rand(2, 9, 4)
    low = [t.bfloat16() for t in (X, C, S, A)]
    expected_sl = scaled_l2(*[t.float() for t in low[:3]])
    expected_e = aggregate(low[3].float(), low[0].float(), low[1].float())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        sl = scaled_l2(*low[:3])
        e = aggregate(low[3], low[0], low[1])
        sl32 = scaled_l2(X, C, S)
    assert sl.dtype == e.dtype == sl32.dtype == torch.float32
    torch.testing.assert_close(sl, expected_sl, rtol=0, atol=0)
    torch.testing.assert_close(e, expected_e, rtol=0, atol=0)
    torch.testing.assert_close(sl32, scaled_l2(X, C, S), rtol=0, atol=0)


@pytest.mark.parametrize(
    'args, message',
    [
        ((torch.randn(9, 6), torch.randn(4, 6), torch.randn(4)), r'scaled_l2: X must have shape \(B, N, D\)'),
        (
            (torch.randn(2, 9, 6), torch.randn(4, 5), torch.randn(4)),
            r'scaled_l2: C must have shape \(K, D\) with size 6 in dim 1 \(D of X\), got shape \(4, 5\)',
        ),
        (
            (torch.randn(2, 9, 6), torch.randn(4, 6), torch.randn(3)),
            r'scaled_l2: S must have shape \(K,\) with size 4 in dim 0 \(K of C\), got shape \(3,\)',
        ),
        (
            (torch.randn(2, 9, 6), torch.ones(4, 6, dtype=torch.int64), torch.randn(4)),
            r'scaled_l2: C must be float32 or float64.*got torch.int64',
        ),
        (
            (torch.randn(2, 9, 6), torch.randn(4, 6), torch.randn(4, dtype=torch.float64)),
            r'scaled_l2: S must have the dtype of X \(torch.float32\), got torch.float64',
        ),
    ],
)
def test_scaled_l2_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        scaled_l2(*args)


@pytest.mark.parametrize(
    'args, message',
    [
        ((torch.rand(2, 9), torch.randn(2, 9, 6), torch.randn(4, 6)), r'aggregate: A must have shape \(B, N, K\)'),
        (
            (torch.rand(2, 9, 4), torch.randn(2, 8, 6), torch.randn(4, 6)),
            r'aggregate: X must have shape \(B, N, D\) with size 9 in dim 1 \(N of A\), got shape \(2, 8, 6\)',
        ),
        (
            (torch.rand(2, 9, 4), torch.randn(3, 9, 6), torch.randn(4, 6)),
            r'aggregate: X must have shape \(B, N, D\) with size 2 in dim 0 \(B of A\)',
        ),
        (
            (torch.rand(2, 9, 4), torch.randn(2, 9, 6), torch.randn(5, 6)),
            r'aggregate: C must have shape \(K, D\) with size 4 in dim 0 \(K of A\), got shape \(5, 6\)',
        ),
        (
            (torch.rand(2, 9, 4), torch.randn(2, 9, 6), torch.randn(4, 7)),
            r'aggregate: C must have shape \(K, D\) with size 6 in dim 1 \(D of X\)',
        ),
        (
            (torch.ones(2, 9, 4, dtype=torch.int32), torch.randn(2, 9, 6), torch.randn(4, 6)),
            r'aggregate: A must be float32 or float64',
        ),
        (
            (torch.rand(2, 9, 4), torch.randn(2, 9, 6, dtype=torch.float64), torch.randn(4, 6)),
            r'aggregate: X must have the dtype of A',
        ),
    ],
)
def test_aggregate_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        aggregate(*args)


def test_fallback_without_extension_warns_once(missing_ext):
    torch.manual_seed(0)
    X, C, S = torch.randn(2, 5, 3), torch.randn(4, 3), torch.randn(4)
    A = torch.rand(2, 5, 4)
    with pytest.warns(RuntimeWarning, match='pip install --no-build-isolation -e .') as record:
        sl = [scaled_l2(X, C, S) for _ in range(2)]
        e = aggregate(A, X, C)
    assert len([w for w in record if issubclass(w.category, RuntimeWarning)]) == 1
    torch.testing.assert_close(sl[1], scaled_l2_reference(X, C, S), rtol=0, atol=0)
    torch.testing.assert_close(e, aggregate_reference(A, X, C), rtol=0, atol=0)


def _largest_allocation(fn) -> int:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # Ops report what they allocated; '[memory]' events report frees (as negative sizes) of
    # memory allocated wherever, so a large temporary shows in one or the other.
    sizes = [-e.cpu_memory_usage if e.name == '[memory]' else e.self_cpu_memory_usage for e in prof.events()]
    assert sizes, 'the profiler recorded no events'
    return max(sizes)


def test_kernel_path_allocates_no_bnkd_tensor(require_ext):
    torch.manual_seed(0)
    B, N, K, D = 2, 256, 16, 32
    X = torch.randn(B, D, N).transpose(1, 2).requires_grad_()
    C = torch.randn(K, D, requires_grad=True)
    S = torch.rand(K, requires_grad=True)
    limit = B * N * K * D * X.element_size() // 4

    def run(sl_op, agg_op):
        def fn():
            agg_op(sl_op(X, C, S).softmax(2), X, C).sum().backward()

        return fn

    # The detector must see the broadcast of the references, or it proves nothing.
    assert _largest_allocation(run(scaled_l2_reference, aggregate_reference)) >= limit
    assert _largest_allocation(run(scaled_l2, aggregate)) < limit
