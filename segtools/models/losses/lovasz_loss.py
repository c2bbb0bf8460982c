"""Lovasz loss: a convex surrogate of the IoU (Berman et al., CVPR 2018)."""

from collections.abc import Sequence

from torch import Tensor

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .lovasz import lovasz_hinge, lovasz_softmax
from .utils import parse_class_weight

LOSS_TYPES = ('multi_class', 'binary')


@MODELS.register_module()
class LovaszLoss(BaseLoss):
    """Lovasz-softmax (``'multi_class'``) or Lovasz hinge (``'binary'``) loss; ignored pixels dropped.

    Args:
        loss_type: ``'multi_class'`` (softmax over ``(N, C, H, W)`` logits; one channel is
            a binary sigmoid) or ``'binary'`` (hinge on ``(N, 1, H, W)`` foreground logits).
        classes: Classes averaged by ``'multi_class'``: ``'all'``, ``'present'`` (in the
            valid labels) or a list of class ids.
        per_image: Compute per image and reduce over images, else over the whole batch.
        reduction: With ``per_image``: ``'none'``, ``'mean'`` or ``'sum'``.
        class_weight: Per-class weights of ``'multi_class'`` (a list or a file path).
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
    """

    # A loss over sorted errors, not a sum over pixels: a per-pixel weight has no meaning.
    takes_pixel_weight = False

    repr_fields = ('loss_type', 'classes', 'per_image', 'reduction', 'loss_weight', 'loss_name')

    def __init__(
        self,
        loss_type: str = 'multi_class',
        classes: str | Sequence[int] = 'present',
        per_image: bool = False,
        reduction: str = 'mean',
        class_weight: Sequence[float] | str | None = None,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_lovasz',
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        name = type(self).__name__
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'{name}: loss_type must be one of {LOSS_TYPES}, got {loss_type!r}')
        if isinstance(classes, str):
            if classes not in ('all', 'present'):
                raise ValueError(f"{name}: classes must be 'all', 'present' or a list of ints, got {classes!r}")
        elif not classes or not all(isinstance(c, int) and c >= 0 for c in classes):
            raise ValueError(f"{name}: classes must be 'all', 'present' or a list of ints >= 0, got {classes!r}")
        else:
            classes = tuple(classes)
        if loss_type == 'binary' and class_weight is not None:
            raise ValueError(f"{name}: class_weight applies to loss_type='multi_class' only")
        self.loss_type = loss_type
        self.classes = classes
        self.per_image = per_image
        self.register_buffer('class_weight', parse_class_weight(name, class_weight), persistent=False)

    def forward(
        self, pred: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ) -> Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)`` (``C == 1`` for ``'binary'``).
            target: Class indices, shape ``(N, H, W)``.
            weight: Must be ``None``: the loss is over sorted errors, not a sum over pixels.
            ignore_index: Label whose pixels are dropped.

        Returns:
            ``loss_weight`` times the loss: a scalar unless ``per_image`` and
            ``reduction='none'`` (shape ``(N,)``).
        """
        if weight is not None:
            raise ValueError(f'{type(self).__name__} does not take a per-pixel weight')
        if self.loss_type == 'binary':
            loss = lovasz_hinge(
                pred, target, per_image=self.per_image, ignore_index=ignore_index, reduction=self.reduction
            )
        else:
            loss = lovasz_softmax(
                pred,
                target,
                classes=self.classes,
                per_image=self.per_image,
                class_weight=self.class_weight,
                ignore_index=ignore_index,
                reduction=self.reduction,
            )
        return self.loss_weight * loss
