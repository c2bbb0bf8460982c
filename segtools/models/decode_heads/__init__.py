"""Decode heads; each subclasses :class:`BaseDecodeHead` and writes its features: ``forward``, and
``forward_with_aux`` with ``aux_losses`` where outputs only the losses use (SE, branch logits)."""

from .aspp_head import ASPPHead
from .atten_head import ATTENHead
from .da_head import DAHead
from .decode_head import BaseDecodeHead
from .dran_head import DRANHead
from .enc_head import EncHead
from .fcfpn_head import FCFPNHead
from .fcn_head import FCNHead
from .psp_head import PSPHead
from .sep_aspp_head import DepthwiseSeparableASPPHead
from .uper_head import UPerHead

__all__ = [
    'BaseDecodeHead',
    'ASPPHead',
    'ATTENHead',
    'DAHead',
    'DepthwiseSeparableASPPHead',
    'DRANHead',
    'EncHead',
    'FCFPNHead',
    'FCNHead',
    'PSPHead',
    'UPerHead',
]
