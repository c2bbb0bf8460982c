"""Cross-entropy against soft targets, for mixup (PyTorch-Encoding's ``NLLMultiLabelSmooth``)."""

from torch import Tensor

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .functional import soft_target_cross_entropy


@MODELS.register_module()
class SoftTargetCrossEntropyLoss(BaseLoss):
    """``-sum_c t_c log p_c`` averaged over samples or pixels.

    The target is soft probabilities shaped like ``pred`` (mixup), or class indices, which
    are one-hot encoded (ignored pixels contribute nothing), so the same loss serves
    validation batches with hard labels.

    Args:
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
        avg_non_ignore: Average over the elements whose target is not all zero only.
    """

    repr_fields = ('reduction', 'loss_weight', 'loss_name', 'avg_non_ignore')

    def __init__(
        self,
        reduction: str = 'mean',
        loss_weight: float = 1.0,
        loss_name: str = 'loss_soft_ce',
        avg_non_ignore: bool = False,
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        self.avg_non_ignore = avg_non_ignore

    def forward(
        self, pred: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ) -> Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)`` or ``(N, C)``.
            target: Probabilities shaped like ``pred``, or class indices, shape ``(N, H, W)``
                or ``(N,)``.
            weight: Per-pixel weights, shape ``(N, H, W)`` or ``(N,)``.
            ignore_index: Label of integer targets that contributes nothing.

        Returns:
            ``loss_weight`` times the loss: a scalar unless ``reduction='none'``.
        """
        loss = soft_target_cross_entropy(
            pred,
            target,
            weight=weight,
            ignore_index=ignore_index,
            reduction=self.reduction,
            avg_non_ignore=self.avg_non_ignore,
        )
        return self.loss_weight * loss
