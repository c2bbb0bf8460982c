"""Global average pooling: the neck of image classifiers."""

from collections.abc import Sequence

import torch
from mmengine.model import BaseModule

from segtools.registry import MODELS


@MODELS.register_module()
class GlobalAveragePooling(BaseModule):
    """Averages every input map over its positions: ``(N, C, H, W) -> (N, C)``.

    The neck between a backbone and a classification head that takes vectors
    (``LinearClsHead``); mmpretrain's neck of the same name. Its outputs have no spatial grid,
    so ``out_strides`` is ``None``: that is how ``ImageClassifier`` tells pooled features from
    feature maps, and a head that encodes maps (``DeepTENHead``) refuses to follow it.

    Args:
        in_channels: Channels of each input, or ``None``; ``ImageClassifier`` fills it from
            the backbone's ``out_channels`` (a config can write ``dict(type='GlobalAveragePooling')``).
        init_cfg: mmengine initialisation config (the neck has no parameters).

    Attributes:
        out_channels: ``in_channels`` (pooling keeps the channels), ``None`` when not given.
    """

    # A pooled vector has no stride; class-level, so it is known before the neck is built.
    out_strides = None

    def __init__(self, in_channels: int | Sequence[int] | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, int):
            in_channels = (in_channels,)
        self.in_channels = None if in_channels is None else tuple(in_channels)
        self.out_channels = self.in_channels

    def forward(self, inputs: Sequence[torch.Tensor] | torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
        """Pools each map.

        Args:
            inputs: A tuple of maps ``(N, C_i, H_i, W_i)`` (a backbone's outputs), or one map.

        Returns:
            A tuple of ``(N, C_i)`` vectors, or one vector for one map.
        """
        if isinstance(inputs, torch.Tensor):
            return self._pool(inputs, 0)
        return tuple(self._pool(x, i) for i, x in enumerate(inputs))

    def _pool(self, x: torch.Tensor, index: int) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'GlobalAveragePooling: input {index} must be (N, C, H, W), got shape {tuple(x.shape)}')
        if self.in_channels is not None and (index >= len(self.in_channels) or x.shape[1] != self.in_channels[index]):
            raise ValueError(
                f'GlobalAveragePooling: input {index} has {x.shape[1]} channels, in_channels={self.in_channels}'
            )
        return x.mean(dim=(2, 3))
