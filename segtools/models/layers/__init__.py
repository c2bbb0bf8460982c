"""Unregistered building blocks shared by the models, and the registered
normalisation and convolution layers that configs name in ``*_cfg``."""

from .acf import ACFModule, MixtureOfSoftMaxACF
from .aspp import ASPP
from .conv_module import ConvModule
from .dran_attention import CLGD, CCAMDec, CPAMDec, CPAMEnc
from .drop_block import DropBlock2D, reset_dropblock
from .enc_module import EncModule
from .encoding import Encoding, EncodingDrop
from .fpn_fuse import FPNFusion
from .lateral_fuse import LateralFusion
from .pam_cam import CAM, PAM
from .ppm import ImagePooling, PyramidPoolingModule
from .res_layer import BasicBlock, Bottleneck, ResLayer
from .rf_conv import RFConv2d
from .splat_conv import RSoftmax, SplAtConv2d
from .sync_bn import SyncBatchNorm

__all__ = [
    'BasicBlock',
    'Bottleneck',
    'DropBlock2D',
    'ResLayer',
    'RSoftmax',
    'SplAtConv2d',
    'reset_dropblock',
    'ACFModule',
    'ASPP',
    'CAM',
    'ConvModule',
    'CCAMDec',
    'CLGD',
    'CPAMDec',
    'CPAMEnc',
    'EncModule',
    'Encoding',
    'EncodingDrop',
    'FPNFusion',
    'ImagePooling',
    'LateralFusion',
    'MixtureOfSoftMaxACF',
    'PAM',
    'PyramidPoolingModule',
    'RFConv2d',
    'SyncBatchNorm',
]
