"""Label-smoothed cross-entropy loss (PyTorch-Encoding's ``LabelSmoothing``)."""

from torch import Tensor

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .functional import label_smoothing_cross_entropy


@MODELS.register_module()
class LabelSmoothingCrossEntropyLoss(BaseLoss):
    """Cross-entropy against labels smoothed towards the uniform distribution.

    From "Rethinking the Inception Architecture for Computer Vision" (Szegedy et al., 2016):
    ``(1 - smoothing) * NLL + smoothing * mean_c(-log p_c)``; ignored pixels excluded and the
    mean taken like :class:`CrossEntropyLoss` (equal to it at ``smoothing=0``).

    Args:
        smoothing: ``epsilon`` in ``[0, 1]``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
        avg_non_ignore: Average over the valid pixels only (else over all, like mmseg's CE).
    """

    repr_fields = ('smoothing', 'reduction', 'loss_weight', 'loss_name', 'avg_non_ignore')

    def __init__(
        self,
        smoothing: float = 0.1,
        reduction: str = 'mean',
        loss_weight: float = 1.0,
        loss_name: str = 'loss_ls',
        avg_non_ignore: bool = False,
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        name = type(self).__name__
        if not 0 <= smoothing <= 1:
            raise ValueError(f'{name}: smoothing must be in [0, 1], got {smoothing!r}')
        self.smoothing = smoothing
        self.avg_non_ignore = avg_non_ignore

    def forward(
        self, pred: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ) -> Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)`` (or ``(N, C)``).
            target: Class indices, shape ``(N, H, W)`` (or ``(N,)``).
            weight: Per-pixel weights, shape of ``target``.
            ignore_index: Label that contributes nothing.

        Returns:
            ``loss_weight`` times the loss: a scalar unless ``reduction='none'``.
        """
        loss = label_smoothing_cross_entropy(
            pred,
            target,
            smoothing=self.smoothing,
            weight=weight,
            ignore_index=ignore_index,
            reduction=self.reduction,
            avg_non_ignore=self.avg_non_ignore,
        )
        return self.loss_weight * loss
