"""Tests of upsampled_cross_entropy: the fused kernel against upsampling first (the reference)."""

import pytest
import torch
import torch.nn.functional as F

from segtools.ops import _ext
from segtools.ops.upsampled_cross_entropy import (
    has_upsampled_cross_entropy_kernel,
    upsampled_cross_entropy,
    upsampled_cross_entropy_reference,
)

IGNORE = 255
# (h, w) of the logits -> (H, W) of the labels: upsampling by 8 (a decode head), uneven factors,
# downsampling, the same size, a single low-resolution pixel, a single output row.
SIZES = [((8, 8), (64, 64)), ((5, 7), (17, 23)), ((9, 6), (4, 3)), ((6, 6), (6, 6)), ((1, 1), (5, 4)), ((3, 4), (1, 9))]


def make_inputs(logit_size, label_size, num_classes=11, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, num_classes, *logit_size, dtype=dtype, generator=generator)
    target = torch.randint(0, num_classes, (2, *label_size), generator=generator)
    target[0, 0, : max(1, label_size[1] // 2)] = IGNORE
    return logits, target


def run_both(logits, target, **kwargs):
    """Loss, pred and the logits' gradient (for random per-pixel loss gradients) of kernel and reference."""
    grad_loss = torch.randn(target.shape, dtype=logits.dtype, generator=torch.Generator().manual_seed(1))
    results = []
    for fn in (upsampled_cross_entropy, upsampled_cross_entropy_reference):
        x = logits.clone().requires_grad_()
        loss, pred = fn(x, target, **kwargs)
        (grad,) = torch.autograd.grad(loss, x, grad_loss)
        results.append((loss, pred, grad))
    return results


@pytest.mark.parametrize('sizes', SIZES)
@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('weighted', [False, True])
def test_kernel_matches_reference(require_ext, sizes, align_corners, dtype, weighted):
    logits, target = make_inputs(*sizes, dtype=dtype)
    class_weight = torch.linspace(0.2, 2.0, logits.shape[1], dtype=dtype) if weighted else None
    (loss, pred, grad), (ref_loss, ref_pred, ref_grad) = run_both(
        logits, target, align_corners=align_corners, class_weight=class_weight, ignore_index=IGNORE
    )
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss, ref_loss, **tol)
    torch.testing.assert_close(grad, ref_grad, **tol)
    assert torch.equal(pred, ref_pred)
    assert loss.shape == pred.shape == target.shape and pred.dtype == torch.int64
    assert torch.all(loss[target == IGNORE] == 0)


def test_decode_head_size_float32(require_ext):
    """A decode head's case in float32: 150 classes, 1/8 resolution, the mean loss's gradient."""
    logits, target = make_inputs((16, 12), (128, 96), num_classes=150, dtype=torch.float32)
    results = []
    for fn in (upsampled_cross_entropy, upsampled_cross_entropy_reference):
        x = logits.clone().requires_grad_()
        loss, pred = fn(x, target)
        loss.mean().backward()
        results.append((loss.mean(), pred, x.grad))
    (loss, pred, grad), (ref_loss, ref_pred, ref_grad) = results
    torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-9)
    assert (pred == ref_pred).float().mean() > 0.999  # float32 near-ties may rank differently


def test_extreme_logits_stay_finite(require_ext):
    """Logit gaps of 1e4 (beyond float32's exp range) give the exact one-hot softmax."""
    logits, target = make_inputs((4, 4), (16, 16), num_classes=5, dtype=torch.float32)
    logits = logits * 1e4
    (loss, _, grad), (ref_loss, _, ref_grad) = run_both(logits, target)
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-2)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-4)


def test_non_finite_logits_give_nan_loss(require_ext):
    logits, target = make_inputs((4, 4), (8, 8), num_classes=5, dtype=torch.float32)
    logits[0, 2, 1, 1] = float('nan')
    loss, _ = upsampled_cross_entropy(logits, target)
    ref_loss, _ = upsampled_cross_entropy_reference(logits, target)
    valid = target != IGNORE
    assert torch.equal(torch.isnan(loss) & valid, torch.isnan(ref_loss) & valid)
    assert torch.isnan(loss).any()


def test_gradcheck(require_ext):
    logits, target = make_inputs((3, 4), (7, 5), num_classes=4)
    x = logits.requires_grad_()
    weight = torch.tensor([0.5, 1.0, 2.0, 0.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: upsampled_cross_entropy(t, target, class_weight=weight)[0], (x,))


def test_non_contiguous_logits_and_expanded_gradient(require_ext):
    logits, target = make_inputs((5, 6), (20, 24))
    channels_last = logits.contiguous(memory_format=torch.channels_last).requires_grad_()
    loss, _ = upsampled_cross_entropy(channels_last, target)
    loss.mean().backward()  # the mean's backward passes an expanded (stride 0) gradient
    x = logits.clone().requires_grad_()
    ref_loss, _ = upsampled_cross_entropy_reference(x, target)
    ref_loss.mean().backward()
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(channels_last.grad, x.grad)


def test_bfloat16_under_autocast_computes_in_float32(require_ext):
    logits, target = make_inputs((4, 4), (16, 16), dtype=torch.float32)
    low = logits.to(torch.bfloat16).requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss, _ = upsampled_cross_entropy(low, target)
    assert loss.dtype == torch.float32
    ref_loss, _ = upsampled_cross_entropy_reference(low.detach().float(), target)
    torch.testing.assert_close(loss, ref_loss)
    loss.sum().backward()
    assert low.grad.dtype == torch.bfloat16


def test_out_of_range_label_is_an_error(require_ext):
    logits, target = make_inputs((4, 4), (8, 8), num_classes=5)
    target[1, 3, 3] = 7
    with pytest.raises(RuntimeError, match=r'label 7, outside the 5 classes \[0, 4\] and not the ignore_index 255'):
        upsampled_cross_entropy(logits, target)
    target[1, 3, 3] = -1
    with pytest.raises(RuntimeError, match='label -1'):
        upsampled_cross_entropy(logits, target)


def test_ignore_index_inside_the_classes(require_ext):
    """ignore_index may be a class index (e.g. 0 for a background that is not learnt)."""
    logits, target = make_inputs((4, 4), (8, 8), num_classes=5)
    (loss, _, grad), (ref_loss, _, ref_grad) = run_both(logits, target.clamp(max=4), ignore_index=0)
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize(
    ('logits', 'target', 'match'),
    [
        (torch.zeros(2, 3, 4), torch.zeros(2, 8, 8, dtype=torch.long), r'logits must have shape \(N, K, h, w\)'),
        (torch.zeros(2, 3, 4, 4), torch.zeros(2, 8, 8, dtype=torch.int32), 'target must be an int64 tensor'),
        (torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 8, 8, dtype=torch.long), r'target must be .* \(N, H, W\)'),
        (torch.zeros(2, 3, 4, 4), torch.zeros(3, 8, 8, dtype=torch.long), 'one label map per logits map'),
    ],
)
def test_invalid_arguments(logits, target, match):
    with pytest.raises(ValueError, match=match):
        upsampled_cross_entropy(logits, target)


def test_without_the_extension_the_reference_runs(missing_ext):
    logits, target = make_inputs((4, 4), (8, 8))
    with pytest.warns(RuntimeWarning, match='segtools._ext is not built'):
        loss, pred = upsampled_cross_entropy(logits, target)
    assert not has_upsampled_cross_entropy_kernel(torch.device('cpu'))
    upsampled = F.interpolate(logits, (8, 8), mode='bilinear', align_corners=False)
    torch.testing.assert_close(loss, F.cross_entropy(upsampled, target, reduction='none', ignore_index=IGNORE))
    assert torch.equal(pred, upsampled.argmax(1))


def test_kernel_is_used_on_cpu(require_ext):
    assert has_upsampled_cross_entropy_kernel(torch.device('cpu'))
    logits, target = make_inputs((4, 4), (8, 8))
    loss, _ = upsampled_cross_entropy(logits.requires_grad_(), target)
    assert type(loss.grad_fn).__name__ == 'UpsampledCrossEntropyFunctionBackward'
    with _ext.reference_ops():
        loss, _ = upsampled_cross_entropy(logits, target)
    assert type(loss.grad_fn).__name__ != 'UpsampledCrossEntropyFunctionBackward'
