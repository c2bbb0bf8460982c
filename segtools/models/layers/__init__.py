"""Unregistered building blocks shared by the models, and the registered
normalisation and convolution layers that configs name in ``*_cfg``."""

from .encoding import Encoding, EncodingDrop
from .rf_conv import RFConv2d
from .sync_bn import SyncBatchNorm

__all__ = ['Encoding', 'EncodingDrop', 'RFConv2d', 'SyncBatchNorm']
