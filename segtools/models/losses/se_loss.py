"""EncNet's semantic-encoding (SE) loss."""

import torch
import torch.nn.functional as F

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS

from .base_loss import BaseLoss


def class_presence(seg_label: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Which classes each image contains: the target of EncNet's semantic-encoding (SE) loss.

    Labels outside ``[0, num_classes)`` and ``ignore_index`` are left out. One scatter over
    the batch on the labels' device (the references loop over images with ``histc``).

    Args:
        seg_label: Class indices, shape ``(N, *)`` (usually ``(N, H, W)``).
        num_classes: Number of classes.
        ignore_index: Label that is left out.

    Returns:
        ``presence[n, c] = 1.0`` if class ``c`` occurs in image ``n`` else ``0.0``, shape
        ``(N, num_classes)``, float32.
    """
    labels = seg_label.reshape(seg_label.shape[0], -1).long()
    valid = (labels >= 0) & (labels < num_classes) & (labels != ignore_index)
    # Left-out labels land in a spare last column that is dropped.
    index = torch.where(valid, labels, torch.full_like(labels, num_classes))
    presence = torch.zeros(labels.shape[0], num_classes + 1, dtype=torch.float32, device=labels.device)
    presence.scatter_(1, index, 1.0)
    return presence[:, :num_classes]


def se_loss(se_logits: torch.Tensor, seg_label: torch.Tensor, *, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """EncNet's semantic-encoding loss: mean BCE between ``se_logits`` and :func:`class_presence`.

    Args:
        se_logits: Class-presence logits, shape ``(N, num_classes)``.
        seg_label: Class indices, shape ``(N, *)``.
        ignore_index: Label that is left out of the presence target.

    Returns:
        A scalar.
    """
    if se_logits.dim() != 2 or seg_label.dim() < 1 or seg_label.shape[0] != se_logits.shape[0]:
        raise ValueError(
            f'se_logits must have shape (N, num_classes) and seg_label (N, H, W), got se_logits of shape '
            f'{tuple(se_logits.shape)} and seg_label of shape {tuple(seg_label.shape)}'
        )
    target = class_presence(seg_label, se_logits.shape[1], ignore_index).to(se_logits.dtype)
    return F.binary_cross_entropy_with_logits(se_logits, target)


@MODELS.register_module()
class SELoss(BaseLoss):
    """Binary cross-entropy between per-image class-presence logits and the classes present.

    From "Context Encoding for Semantic Segmentation" (Zhang et al., CVPR 2018): the
    Encoding layer's feature predicts which classes occur in the image. The target
    (:func:`class_presence`) is built on the label's device in one scatter; ``ignore_index``
    and labels outside ``[0, num_classes)`` are left out.

    Args:
        loss_weight: Factor of the returned loss (0.2 in EncNet).
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
    """

    # One value per image and class, not per pixel.
    takes_pixel_weight = False

    def __init__(self, loss_weight: float = 0.2, loss_name: str = 'loss_se') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(
        self, se_logits: torch.Tensor, seg_label: torch.Tensor, ignore_index: int = IGNORE_INDEX
    ) -> torch.Tensor:
        """Computes the weighted loss.

        Args:
            se_logits: Class-presence logits, shape ``(N, num_classes)``.
            seg_label: Class indices, shape ``(N, H, W)``.
            ignore_index: Label left out of the presence target.

        Returns:
            ``loss_weight`` times the mean BCE, a scalar.
        """
        return self.loss_weight * se_loss(se_logits, seg_label, ignore_index=ignore_index)
