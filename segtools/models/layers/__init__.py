"""Unregistered building blocks shared by the models, and the registered
normalisation and convolution layers that configs name in ``*_cfg``."""

from .rf_conv import RFConv2d

__all__ = ['RFConv2d']
