# EncNet R-101-D8: encnet_r50-d8_4xb2-80k_cityscapes-769x769
# with a ResNet-101 backbone (the depth and its ImageNet weights change).
_base_ = './encnet_r50-d8_4xb2-80k_cityscapes-769x769.py'
model = dict(pretrained='segtools://resnet101_v1c', backbone=dict(depth=101))
