"""Cross-entropy over the hard pixels (OHEM), as in OCNet and early PyTorch-Encoding."""

from collections.abc import Sequence

from torch import Tensor

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss
from .functional import ohem_cross_entropy
from .utils import parse_class_weight


@MODELS.register_module()
class OhemCrossEntropyLoss(BaseLoss):
    """Online hard example mining cross-entropy.

    Keeps the valid pixels of the batch whose probability of their true class is below
    ``thresh``, or the ``min_kept`` hardest valid pixels when fewer are, and averages their
    (class-weighted) cross-entropy. See :func:`~.functional.ohem_cross_entropy`.

    Args:
        thresh: Probability below which a pixel is hard, in ``(0, 1]``.
        min_kept: Least number of pixels kept per batch, ``>= 0``.
        class_weight: Per-class weights (a list, or a ``.npy``/``.pkl``/``.json`` path).
        loss_weight: Factor of the returned loss.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
    """

    repr_fields = ('thresh', 'min_kept', 'loss_weight', 'loss_name')

    def __init__(
        self,
        thresh: float = 0.7,
        min_kept: int = 100000,
        class_weight: Sequence[float] | str | None = None,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_ohem',
    ) -> None:
        super().__init__(loss_weight, loss_name)
        name = type(self).__name__
        if not 0 < thresh <= 1:
            raise ValueError(f'{name}: thresh must be in (0, 1], got {thresh!r}')
        if not isinstance(min_kept, int) or min_kept < 0:
            raise ValueError(f'{name}: min_kept must be an int >= 0, got {min_kept!r}')
        self.thresh = thresh
        self.min_kept = min_kept
        self.register_buffer('class_weight', parse_class_weight(name, class_weight), persistent=False)

    def forward(
        self, pred: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ) -> Tensor:
        """Computes the weighted loss.

        Args:
            pred: Logits, shape ``(N, C, H, W)``.
            target: Class indices, shape ``(N, H, W)``.
            weight: Per-pixel weights, shape of ``target``.
            ignore_index: Label that is never kept.

        Returns:
            ``loss_weight`` times the mean cross-entropy of the kept pixels, a scalar.
        """
        loss = ohem_cross_entropy(
            pred,
            target,
            thresh=self.thresh,
            min_kept=self.min_kept,
            class_weight=self.class_weight,
            weight=weight,
            ignore_index=ignore_index,
        )
        return self.loss_weight * loss
