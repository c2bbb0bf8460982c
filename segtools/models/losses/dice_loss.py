"""Dice loss (Milletari et al., "V-Net", 3DV 2016) with mmseg 0.x semantics."""

from collections.abc import Sequence

from torch import Tensor

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .functional import dice_loss
from .utils import parse_class_weight


@MODELS.register_module()
class DiceLoss(BaseLoss):
    """Per-class Dice loss of softmax probabilities against one-hot labels, averaged over classes.

    Ignored pixels are masked out. See :func:`~.functional.dice_loss`. A single logit
    channel is a binary sigmoid (background, foreground).

    Args:
        smooth: Added to numerator and denominator of each class's Dice.
        exponent: Power of the denominator's terms.
        class_weight: Per-class weights (a list, or a ``.npy``/``.pkl``/``.json`` path).
        reduction: Over images: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
    """

    # A ratio of sums over pixels: a per-pixel weight has no meaning.
    takes_pixel_weight = False

    repr_fields = ('smooth', 'exponent', 'reduction', 'loss_weight', 'loss_name')

    def __init__(
        self,
        smooth: float = 1.0,
        exponent: float = 2.0,
        class_weight: Sequence[float] | str | None = None,
        reduction: str = 'mean',
        loss_weight: float = 1.0,
        loss_name: str = 'loss_dice',
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        name = type(self).__name__
        if smooth < 0:
            raise ValueError(f'{name}: smooth must be >= 0, got {smooth!r}')
        if exponent <= 0:
            raise ValueError(f'{name}: exponent must be > 0, got {exponent!r}')
        self.smooth = smooth
        self.exponent = exponent
        self.register_buffer('class_weight', parse_class_weight(name, class_weight), persistent=False)

    def forward(
        self, pred: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ) -> Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)``.
            target: Class indices, shape ``(N, H, W)``.
            weight: Must be ``None``: a per-pixel weight has no meaning for a ratio of sums.
            ignore_index: Label whose pixels are masked.

        Returns:
            ``loss_weight`` times the loss: a scalar unless ``reduction='none'`` (shape ``(N,)``).
        """
        if weight is not None:
            raise ValueError(f'{type(self).__name__} does not take a per-pixel weight')
        loss = dice_loss(
            pred,
            target,
            smooth=self.smooth,
            exponent=self.exponent,
            class_weight=self.class_weight,
            ignore_index=ignore_index,
            reduction=self.reduction,
        )
        return self.loss_weight * loss
