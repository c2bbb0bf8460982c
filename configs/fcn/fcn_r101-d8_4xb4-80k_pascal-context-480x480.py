# FCN R-101-D8: the R-50 recipe with a 101-layer backbone. mmseg initialises it
# from 'open-mmlab://resnet101_v1c': pretrained='segtools://resnet101_v1c' is those weights.
_base_ = './fcn_r50-d8_4xb4-80k_pascal-context-480x480.py'
model = dict(pretrained='segtools://resnet101_v1c', backbone=dict(depth=101))
