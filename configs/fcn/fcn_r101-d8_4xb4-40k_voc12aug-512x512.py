# FCN R-101-D8: the R-50 recipe with a 101-layer backbone. mmseg initialises it
# from 'open-mmlab://resnet101_v1c': set model.pretrained to a local copy of those weights.
_base_ = './fcn_r50-d8_4xb4-40k_voc12aug-512x512.py'
model = dict(backbone=dict(depth=101))
