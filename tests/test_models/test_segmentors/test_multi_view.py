"""Tests of window-batched multi-view inference and its probability fusion."""

import pytest
import torch

from segtools.models.segmentors.multi_view import infer_views, slide_corners, to_logits, to_probabilities


def window_dependent(crops: torch.Tensor, metas: list[dict]) -> torch.Tensor:
    """Logits = 4 x pixel values, class 0 plus a ramp across the window: overlapping windows disagree."""
    ramp = torch.linspace(-2, 2, crops.shape[-1])
    return torch.cat([crops[:, :1] * 4 + ramp, crops[:, 1:] * 4], dim=1)


def test_slide_corners_cover_the_image_and_touch_the_border():
    corners = slide_corners(9, 11, (4, 5), (3, 2))
    assert sorted({y for y, _ in corners}) == [0, 3, 5]
    assert sorted({x for _, x in corners}) == [0, 2, 4, 6]
    covered = torch.zeros(9, 11)
    for y, x in corners:
        covered[y : y + 4, x : x + 5] += 1
    assert covered.min() >= 1
    assert slide_corners(4, 5, (4, 5), (3, 2)) == [(0, 0)]


@pytest.mark.parametrize('channels', [3, 1])
def test_overlapping_windows_average_probabilities(channels):
    x = torch.rand(2, channels, 6, 7)
    crop, stride = (4, 4), (2, 3)
    (fused,) = infer_views(window_dependent, [(x, [{}, {}])], crop=crop, stride=stride, window_batch=2)
    total, logit_total, count = torch.zeros_like(x), torch.zeros_like(x), torch.zeros(1, 1, 6, 7)
    for y, x0 in slide_corners(6, 7, crop, stride):
        window = window_dependent(x[:, :, y : y + 4, x0 : x0 + 4], [])
        total[:, :, y : y + 4, x0 : x0 + 4] += to_probabilities(window)
        logit_total[:, :, y : y + 4, x0 : x0 + 4] += window
        count[:, :, y : y + 4, x0 : x0 + 4] += 1
    torch.testing.assert_close(to_probabilities(fused), total / count)
    # The rule matters here: averaged logits would give other probabilities.
    assert not torch.allclose(to_probabilities(logit_total / count), total / count, atol=1e-3)


def test_to_logits_inverts_to_probabilities():
    logits = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(to_probabilities(to_logits(to_probabilities(logits))), to_probabilities(logits))
    binary = torch.randn(2, 1, 3, 3)
    torch.testing.assert_close(to_logits(to_probabilities(binary)), binary, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('window_batch', [2, 3, 7, 100])
@pytest.mark.parametrize('slide', [True, False])
def test_batched_windows_equal_one_at_a_time(window_batch, slide):
    views = [(torch.rand(2, 3, h, w), [{}, {}]) for h, w in [(6, 7), (6, 7), (3, 9), (8, 5), (8, 5)]]
    params = dict(crop=(4, 4), stride=(3, 3)) if slide else {}
    expected = list(infer_views(window_dependent, views, window_batch=1, **params))
    calls = []

    def encode(crops, metas):
        calls.append(crops.shape)
        assert len(metas) == crops.shape[0]
        return window_dependent(crops, metas)

    results = list(infer_views(encode, views, window_batch=window_batch, **params))
    assert [r.shape for r in results] == [(2, 3, *v[0].shape[2:]) for v in views]
    for result, reference in zip(results, expected, strict=True):
        torch.testing.assert_close(result, reference, rtol=0, atol=1e-6)
    assert all(shape[0] <= 2 * window_batch for shape in calls)
    if not slide:  # whole views batch only with neighbours of their size
        assert [shape[0] for shape in calls] == ([2, 2, 2, 2, 2] if window_batch == 1 else [4, 2, 4])


def test_views_are_yielded_as_soon_as_their_windows_are_done():
    calls = []

    def encode(crops, metas):
        calls.append(crops.shape[0])
        return window_dependent(crops, metas)

    views = [(torch.rand(1, 3, 4, 4), [{}]), (torch.rand(1, 3, 10, 10), [{}])]
    results = infer_views(encode, views, crop=(4, 4), stride=(3, 3), window_batch=2)
    next(results)  # the first view's only window shares a forward with one of the second's
    assert calls == [2]
    next(results)
    assert sum(calls) == 1 + 9  # a 3x3 grid on 10x10
