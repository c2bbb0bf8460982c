"""Cross-entropy loss with MMSegmentation's semantics (softmax or sigmoid)."""

from collections.abc import Sequence

import torch

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .functional import binary_cross_entropy, cross_entropy, upsampled_cross_entropy
from .utils import check_reduction, parse_class_weight


@MODELS.register_module()
class CrossEntropyLoss(BaseLoss):
    """Pixel-wise cross-entropy, softmax over classes or a sigmoid per channel.

    By default (``avg_non_ignore=False``, like MMSegmentation) the mean divides by all
    pixels, ignored ones included, which published mIoU numbers depend on; with
    ``avg_non_ignore=True`` it divides by the valid pixels (class-weighted like torch).
    ``use_sigmoid`` selects binary cross-entropy with logits: ``(N, 1, H, W)`` logits for
    binary segmentation (``out_channels=1``), one-hot targets for ``(N, C, H, W)``, or
    per-channel targets of the prediction's shape (EncNet's class presence ``(N, C)``). A
    classification-like ``(N, C)`` prediction with an ``(N,)`` target works too.

    Args:
        use_sigmoid: Sigmoid (binary) instead of softmax cross-entropy.
        use_mask: MMSegmentation's per-instance mask cross-entropy (an mmdet RoI loss); only
            ``False`` is accepted, segtools' heads have no use for it.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        class_weight: Per-class weights (a list, or a ``.npy``/``.pkl``/``.json`` path); two
            entries (labels 0 and 1) for a single-channel sigmoid prediction.
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
        avg_non_ignore: Average over the valid pixels only.
    """

    repr_fields = ('use_sigmoid', 'reduction', 'loss_weight', 'loss_name', 'avg_non_ignore')

    def __init__(
        self,
        use_sigmoid: bool = False,
        use_mask: bool = False,
        reduction: str = 'mean',
        class_weight: Sequence[float] | str | None = None,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_ce',
        avg_non_ignore: bool = False,
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        name = type(self).__name__
        if use_mask:
            raise ValueError(
                f"{name}: use_mask=True (MMSegmentation's per-instance mask cross-entropy, which needs the RoI "
                'labels of an instance head) is not supported: no segtools head produces RoI masks'
            )
        self.use_sigmoid = use_sigmoid
        self.avg_non_ignore = avg_non_ignore
        # A buffer follows the module to the GPU; not persistent, so checkpoints keep their keys.
        self.register_buffer('class_weight', parse_class_weight(name, class_weight), persistent=False)

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: torch.Tensor | float | None = None,
        reduction_override: str | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> torch.Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)`` (or ``(N, C)``).
            target: Class indices, shape ``(N, H, W)`` (or ``(N,)``), or with ``use_sigmoid``
                per-channel targets of ``pred``'s shape.
            weight: Per-pixel weights, shape of ``target``.
            avg_factor: Divisor of the mean instead of the pixel count.
            reduction_override: ``'none'``, ``'mean'`` or ``'sum'`` instead of ``reduction``
                for this call (e.g. per-pixel losses for a pixel sampler).
            ignore_index: Label that contributes nothing.

        Returns:
            ``loss_weight`` times the loss: a scalar unless the reduction is ``'none'``.
        """
        reduction = self._reduction(reduction_override)
        loss_fn = binary_cross_entropy if self.use_sigmoid else cross_entropy
        loss = loss_fn(
            pred,
            target,
            class_weight=self.class_weight,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            avg_non_ignore=self.avg_non_ignore,
            avg_factor=avg_factor,
        )
        return self.loss_weight * loss

    def forward_upsampled(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        *,
        align_corners: bool,
        weight: torch.Tensor | None = None,
        avg_factor: torch.Tensor | float | None = None,
        reduction_override: str | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` on the logits bilinearly resized to ``target``'s size, without storing them.

        What a decode head computes as ``self(resize(logits, target.shape[-2:]), target)``,
        through :func:`segtools.ops.upsampled_cross_entropy` (softmax only).

        Args:
            logits: Low-resolution logits, shape ``(N, C, h, w)``.
            target: Class indices, shape ``(N, H, W)``.
            align_corners: ``align_corners`` of the resize.
            weight, avg_factor, reduction_override, ignore_index: As in :meth:`forward`.

        Returns:
            ``loss_weight`` times the loss, and the argmax of the resized logits ``(N, H, W)``.

        Raises:
            ValueError: With ``use_sigmoid=True``.
        """
        if self.use_sigmoid:
            raise ValueError(f'{type(self).__name__}.forward_upsampled: only the softmax form, not use_sigmoid=True')
        reduction = self._reduction(reduction_override)
        loss, pred = upsampled_cross_entropy(
            logits,
            target,
            align_corners=align_corners,
            class_weight=self.class_weight,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            avg_non_ignore=self.avg_non_ignore,
            avg_factor=avg_factor,
        )
        return self.loss_weight * loss, pred

    def _reduction(self, reduction_override: str | None) -> str:
        """``reduction``, or the checked ``reduction_override`` of one call."""
        if reduction_override is None:
            return self.reduction
        return check_reduction(type(self).__name__, reduction_override)
