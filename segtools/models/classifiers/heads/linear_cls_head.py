"""A linear classifier on pooled features."""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.registry import MODELS

from .base_cls_head import DEFAULT_LOSS, BaseClsHead

DEFAULT_INIT = dict(type='Normal', layer='Linear', std=0.01)


@MODELS.register_module()
class LinearClsHead(BaseClsHead):
    """Dropout then one fully connected layer: ``(N, in_channels) -> (N, num_classes)``.

    The classifier of PyTorch-Encoding's ResNet/ResNeSt (its ``final_drop`` then ``fc``), and
    mmpretrain's head of the same name; it follows ``GlobalAveragePooling``.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the pooled input.
        final_drop: Dropout probability before the layer; 0 for none.
        in_index: Which neck output the head reads.
        loss: Loss config (see :class:`BaseClsHead`).
        topk: The top-k accuracies logged with the loss.
        init_cfg: mmengine initialisation config; ``Normal(std=0.01)`` weights by default.
    """

    takes_pooled = True

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        *,
        final_drop: float = 0.0,
        in_index: int = -1,
        loss: dict = DEFAULT_LOSS,
        topk: int | Sequence[int] = (1,),
        init_cfg: dict | list[dict] | None = DEFAULT_INIT,
    ) -> None:
        super().__init__(num_classes, in_channels, in_index=in_index, loss=loss, topk=topk, init_cfg=init_cfg)
        if not 0 <= final_drop < 1:
            raise ValueError(f'{type(self).__name__}: final_drop must be in [0, 1), got {final_drop!r}')
        self.final_drop = final_drop
        self.dropout = nn.Dropout(final_drop) if final_drop > 0 else None
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feats: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Pooled features (the ``in_index`` one, ``(N, in_channels)``) -> logits ``(N, num_classes)``."""
        x = self._select(feats)
        if x.dim() != 2:
            raise ValueError(
                f'LinearClsHead takes pooled (N, C) features, got shape {tuple(x.shape)}; add '
                "neck=dict(type='GlobalAveragePooling')"
            )
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)
