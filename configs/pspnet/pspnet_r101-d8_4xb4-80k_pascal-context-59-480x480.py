# PSPNet R-101-D8: the R-50 recipe with a 101-layer backbone. mmseg initialises it
# from 'open-mmlab://resnet101_v1c': set model.pretrained to a local copy of those weights.
_base_ = './pspnet_r50-d8_4xb4-80k_pascal-context-59-480x480.py'
model = dict(backbone=dict(depth=101))
