"""mmcv's ConvModule with segtools' SyncBN and the ReLU after it run as one kernel."""

import torch
from mmcv.cnn import ConvModule as MMCVConvModule
from torch import nn

from .sync_bn import fuses_relu


class ConvModule(MMCVConvModule):
    """:class:`mmcv.cnn.ConvModule` (conv -> norm -> activation) that fuses segtools' SyncBN with its ReLU.

    When the norm is segtools' :class:`~segtools.models.layers.sync_bn.SyncBatchNorm`
    (``norm_cfg=dict(type='SyncBN')``, the default of MMSegmentation's configs) with no activation
    of its own and the activation is ``nn.ReLU``, the two run as one kernel,
    ``norm(conv(x), activation='relu')``: the activation is read and written once instead of twice
    in the forward and in the backward, with the same outputs and gradients (see
    :func:`~segtools.models.layers.sync_bn.norm_relu`). Any other norm, activation or order, a call
    with ``activate=False`` or ``norm=False``, and mmcv's ``efficient_conv_bn_eval`` take mmcv's
    forward. Arguments, submodules and state-dict keys are mmcv's.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, C_out, H', W')``.
    """

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        if activate and norm and self._fuses_norm_relu():
            if self.with_explicit_padding:
                x = self.padding_layer(x)
            return self.norm(self.conv(x), activation='relu')
        return super().forward(x, activate, norm)

    def _fuses_norm_relu(self) -> bool:
        if tuple(self.order) != ('conv', 'norm', 'act') or not (self.with_norm and self.with_activation):
            return False
        if not fuses_relu(self.norm) or type(self.activate) is not nn.ReLU:
            return False
        return self.efficient_conv_bn_eval_forward is None or self.norm.training
