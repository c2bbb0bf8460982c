"""Window-batched inference of several views of a batch, fused by averaged probabilities.

One rule fuses every set of predictions of the same pixels, whether they come from
overlapping slide windows, flips or scales: the softmax probabilities (a sigmoid for
one output channel) are averaged and returned as ``log(mean p)`` (``logit(mean p)``),
which are logits again, so argmax/threshold and further fusion work on them.

Why probabilities: each window and view is one prediction of the pixel, and the mean
of their class distributions is the ensemble's distribution. Averaging logits instead
(what MMSegmentation's and PyTorch-Encoding's slide inference do) weighs each
prediction by the scale of its logits, which is arbitrary per pixel (a softmax ignores
an added constant): a window with large logits near its border outvotes the others.
Using the same rule for windows as for flips and scales also makes the order in which
views and windows are fused irrelevant.

:func:`infer_views` plans the windows of all views (one window per view in whole
mode), runs them through the network ``window_batch`` at a time (consecutive windows
of one size, possibly of several views), and yields each view's fused logits as soon
as its last window is done, so only the views of the current chunk hold buffers.
"""

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

Encode = Callable[[torch.Tensor, list[dict]], torch.Tensor]
View = tuple[torch.Tensor, list[dict]]


def to_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the class dim ``-3`` of ``(..., K, H, W)``, or a sigmoid when ``K == 1``."""
    return logits.sigmoid() if logits.shape[-3] == 1 else logits.softmax(dim=-3)


def to_logits(probabilities: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_probabilities` up to a per-pixel constant: ``log p`` (``logit p`` for ``K == 1``)."""
    eps = torch.finfo(probabilities.dtype).eps
    if probabilities.shape[-3] == 1:
        return torch.logit(probabilities, eps=eps)
    return probabilities.clamp_min(eps).log()


def fuse_probabilities(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Averages the probabilities of several predictions of the same pixels.

    Args:
        logits: Logits of each prediction, all ``(..., K, H, W)`` of one shape.

    Returns:
        Logits ``(..., K, H, W)`` whose softmax (sigmoid) is the mean probability.
    """
    if len(logits) == 0:
        raise ValueError('fuse_probabilities needs at least one prediction')
    total = to_probabilities(logits[0])
    for view in logits[1:]:
        total = total + to_probabilities(view)
    return to_logits(total / len(logits))


def slide_corners(height: int, width: int, crop: tuple[int, int], stride: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of the windows covering a ``height x width`` image.

    A regular grid of ``stride`` whose last row/column is moved back to touch the
    border; the image is assumed padded to at least ``crop``.
    """
    (crop_h, crop_w), (stride_h, stride_w) = crop, stride
    rows = [min(i * stride_h, height - crop_h) for i in range(math.ceil(max(height - crop_h, 0) / stride_h) + 1)]
    cols = [min(j * stride_w, width - crop_w) for j in range(math.ceil(max(width - crop_w, 0) / stride_w) + 1)]
    return [(y, x) for y in rows for x in cols]


@dataclass
class _ViewState:
    """One view's windows and, once the first window is done, its running sums."""

    inputs: torch.Tensor  # (N, C, H', W'), padded to at least the window size
    size: tuple[int, int]  # unpadded (H, W)
    corners: list[tuple[int, int]]
    window: tuple[int, int]
    remaining: int = 0
    total: torch.Tensor | None = None
    count: torch.Tensor | None = None
    single: torch.Tensor | None = field(default=None, repr=False)

    def add(self, y: int, x: int, logits: torch.Tensor) -> None:
        self.remaining -= 1
        if len(self.corners) == 1:
            self.single = logits  # one window: its logits are the view's, no fusion
            return
        if self.total is None:
            self.total = logits.new_zeros((*logits.shape[:2], *self.inputs.shape[2:]))
            self.count = logits.new_zeros((1, 1, *self.inputs.shape[2:]))
        h, w = self.window
        self.total[:, :, y : y + h, x : x + w] += to_probabilities(logits)
        self.count[:, :, y : y + h, x : x + w] += 1

    def result(self) -> torch.Tensor:
        height, width = self.size
        if self.single is not None:
            return self.single[:, :, :height, :width]
        return to_logits(self.total / self.count)[:, :, :height, :width]


def _plan(views: Sequence[View], crop: tuple[int, int] | None, stride: tuple[int, int] | None) -> list[_ViewState]:
    states = []
    for inputs, _ in views:
        height, width = inputs.shape[2:]
        if crop is None:  # whole mode: the view is its own window
            window, corners = (height, width), [(0, 0)]
        else:
            # Views smaller than the crop are padded with 0 (the mean colour after
            # normalisation) so that every window has the crop size.
            inputs = F.pad(inputs, (0, max(crop[1] - width, 0), 0, max(crop[0] - height, 0)))
            window, corners = crop, slide_corners(*inputs.shape[2:], crop, stride)
        states.append(_ViewState(inputs, (height, width), corners, window, remaining=len(corners)))
    return states


def infer_views(
    encode: Encode,
    views: Sequence[View],
    *,
    crop: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    window_batch: int = 1,
) -> Iterator[torch.Tensor]:
    """Whole or sliding-window inference of several views, windows batched across views.

    Args:
        encode: The network, ``(M, C, h, w), metas -> (M, K, h, w)`` logits at the input size.
        views: ``(inputs (N, C, H, W), metas)`` per view; views may differ in size.
        crop: Window size ``(h, w)`` (slide mode); ``None`` runs each view whole.
        stride: Window step ``(h, w)``; required with ``crop``.
        window_batch: At most this many windows (each of ``N`` images) per forward;
            only consecutive windows of one size share a forward.

    Yields:
        Each view's logits ``(N, K, H, W)`` in the order of ``views``: the network's
        logits where one window covers the view, otherwise :func:`to_logits` of the
        mean window probability.
    """
    states = _plan(views, crop, stride)
    windows = [(index, y, x) for index, state in enumerate(states) for y, x in state.corners]
    done = 0
    start = 0
    while start < len(windows):
        size = states[windows[start][0]].window
        stop = start + 1
        while stop < min(start + window_batch, len(windows)) and states[windows[stop][0]].window == size:
            stop += 1
        chunk = windows[start:stop]
        crops = torch.cat([states[i].inputs[:, :, y : y + size[0], x : x + size[1]] for i, y, x in chunk])
        metas = [meta for i, _, _ in chunk for meta in views[i][1]]
        logits = encode(crops, metas).split([states[i].inputs.shape[0] for i, _, _ in chunk])
        for (i, y, x), window_logits in zip(chunk, logits, strict=True):
            states[i].add(y, x, window_logits)
        while done < len(states) and states[done].remaining == 0:
            yield states[done].result()
            states[done] = None  # free the view's buffers
            done += 1
        start = stop
