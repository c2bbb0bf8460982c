"""Online hard example mining of pixels for a decode head's losses (MMSegmentation's
``OHEMPixelSampler``; "Training Region-based Object Detectors with Online Hard Example Mining",
Shrivastava et al., CVPR 2016)."""

import inspect

import torch
from torch import nn

from segtools.constants import IGNORE_INDEX
from segtools.registry import TASK_UTILS

from ..losses.functional import class_probabilities


def ohem_pixel_weight(
    seg_logit: torch.Tensor,
    seg_label: torch.Tensor,
    *,
    thresh: float | None,
    min_kept: int,
    ignore_index: int = IGNORE_INDEX,
    pixel_loss: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pixel weights that keep the hard pixels of a batch (1) and drop the others (0).

    With ``K = min_kept * N`` and ``n`` valid pixels (label not ``ignore_index``):

    - ``thresh`` given: ``p_i`` is the probability pixel ``i`` gives its true class (softmax;
      sigmoid for one channel). With ``p_(0) <= ... <= p_(n-1)`` the valid ones sorted,
      pixel ``i`` is kept iff ``p_i < max(thresh, p_(min(K, n - 1)))``: every pixel below
      ``thresh``, and at least the ``K`` least confident ones (fewer on ties at the cut; with
      ``n <= K`` all but the most confident, as MMSegmentation).
    - ``thresh=None``: the ``K`` valid pixels with the largest ``pixel_loss`` (all when
      ``n <= K``).

    Args:
        seg_logit: Logits, shape ``(N, C, H, W)``.
        seg_label: Class indices, shape ``(N, H, W)``.
        thresh: Probability below which a pixel is hard, or ``None`` to rank by loss.
        min_kept: Least number of pixels kept per image (``K / N``).
        ignore_index: Label of the pixels that are never kept.
        pixel_loss: Per-pixel loss, shape ``(N, H, W)``; needed when ``thresh`` is ``None``.

    Returns:
        Weights in {0, 1}, shape ``(N, H, W)``, dtype of ``seg_logit``; no gradient.
    """
    with torch.no_grad():
        valid = seg_label != ignore_index
        weight = torch.zeros(seg_label.shape, dtype=seg_logit.dtype, device=seg_logit.device)
        num_valid = int(valid.sum())  # one host sync, as the sort of MMSegmentation's sampler
        if num_valid == 0:
            return weight
        num_kept = min_kept * seg_label.shape[0]
        if thresh is not None:
            index = torch.where(valid, seg_label, torch.zeros_like(seg_label)).long()
            prob = class_probabilities(seg_logit).gather(1, index.unsqueeze(1)).squeeze(1)
            # Invalid pixels rank last, so the k-th smallest below is a valid probability.
            ranked = torch.where(valid, prob, torch.full_like(prob, float('inf'))).flatten()
            cut = ranked.kthvalue(min(num_kept, num_valid - 1) + 1).values
            kept = valid & (prob < cut.clamp(min=thresh))
        else:
            if pixel_loss is None or pixel_loss.shape != seg_label.shape:
                shape = None if pixel_loss is None else tuple(pixel_loss.shape)
                raise ValueError(
                    f'ohem_pixel_weight: thresh=None needs pixel_loss of shape {tuple(seg_label.shape)}, got {shape}'
                )
            ranked = torch.where(valid, pixel_loss, torch.full_like(pixel_loss, float('-inf'))).flatten()
            # A sort, as MMSegmentation: faster than topk for large k on GPU (pytorch#22812).
            top = ranked.argsort(descending=True)[: min(num_kept, num_valid)]
            kept = torch.zeros_like(ranked, dtype=torch.bool).index_fill_(0, top, True).view_as(valid)
        return weight.masked_fill_(kept, 1.0)


@TASK_UTILS.register_module()
class OHEMPixelSampler:
    """Weights the pixels of a decode head's losses by online hard example mining.

    Built by :class:`~segtools.models.decode_heads.BaseDecodeHead` from its ``sampler``
    config with ``context=<the head>``; the head multiplies its decode losses by the weights
    of :meth:`sample` (so, with the default ``avg_non_ignore=False``, the mean still divides
    by all pixels, as MMSegmentation). See :func:`ohem_pixel_weight` for the selection. With
    ``thresh=None`` pixels are ranked by the sum of the head's decode losses per pixel
    (``reduction_override='none'``), which every one of them must provide.

    Args:
        context: The decode head, for ``ignore_index`` and ``loss_decode``.
        thresh: Probability in ``(0, 1]`` below which a pixel is hard, or ``None``.
        min_kept: Least number of pixels kept per image, ``>= 1``.

    Raises:
        ValueError: An invalid value, or a decode loss without per-pixel weights (or,
            with ``thresh=None``, without per-pixel values), naming the loss.
    """

    def __init__(self, context: nn.Module, thresh: float | None = None, min_kept: int = 100000) -> None:
        name = type(self).__name__
        if thresh is not None and not 0 < thresh <= 1:
            raise ValueError(f'{name}: sampler.thresh must be None or in (0, 1], got {thresh!r}')
        if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept < 1:
            raise ValueError(f'{name}: sampler.min_kept must be an int >= 1, got {min_kept!r}')
        if not hasattr(context, 'ignore_index') or not hasattr(context, 'loss_decode'):
            raise TypeError(
                f'{name}: context must be a decode head (with ignore_index, loss_decode), got {type(context).__name__}'
            )
        losses = context.loss_decode if isinstance(context.loss_decode, nn.ModuleList) else [context.loss_decode]
        for loss in losses:
            if not getattr(loss, 'takes_pixel_weight', True):
                raise ValueError(
                    f'{name}: loss_decode {type(loss).__name__} ({loss.loss_name}) takes no per-pixel weight, so '
                    'the sampler cannot weight it; drop the sampler or use a pixel-wise loss (CrossEntropyLoss)'
                )
            if thresh is None and 'reduction_override' not in inspect.signature(loss.forward).parameters:
                raise ValueError(
                    f'{name}: with sampler.thresh=None pixels are ranked by the per-pixel decode loss, which '
                    f'loss_decode {type(loss).__name__} ({loss.loss_name}) does not give '
                    "(no reduction_override='none'); set sampler.thresh or use CrossEntropyLoss"
                )
        self.context = context
        self.thresh = thresh
        self.min_kept = min_kept

    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """Weights of the hard pixels.

        Args:
            seg_logit: Logits at the label size, shape ``(N, C, H, W)``.
            seg_label: Labels, shape ``(N, 1, H, W)``.

        Returns:
            Weights in {0, 1}, shape ``(N, H, W)``.
        """
        if seg_label.dim() != 4 or seg_label.shape[1] != 1 or seg_label.shape[2:] != seg_logit.shape[2:]:
            raise ValueError(
                f'{type(self).__name__}: seg_label must have shape (N, 1, H, W) with the size of seg_logit '
                f'{tuple(seg_logit.shape)}, got {tuple(seg_label.shape)}'
            )
        seg_label = seg_label.squeeze(1).long()
        ignore_index = self.context.ignore_index
        pixel_loss = None
        if self.thresh is None:
            losses = self.context.loss_decode
            losses = losses if isinstance(losses, nn.ModuleList) else [losses]
            with torch.no_grad():
                pixel_loss = sum(
                    loss(seg_logit, seg_label, weight=None, ignore_index=ignore_index, reduction_override='none')
                    for loss in losses
                )
        return ohem_pixel_weight(
            seg_logit,
            seg_label,
            thresh=self.thresh,
            min_kept=self.min_kept,
            ignore_index=ignore_index,
            pixel_loss=pixel_loss,
        )

    def __repr__(self) -> str:
        return f'{type(self).__name__}(thresh={self.thresh}, min_kept={self.min_kept})'
