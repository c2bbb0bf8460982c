# DRANet R-101-D8: dranet_r50-d8_4xb4-160k_ade20k-512x512
# with a ResNet-101 backbone (the depth and its ImageNet weights change).
_base_ = './dranet_r50-d8_4xb4-160k_ade20k-512x512.py'
model = dict(pretrained='segtools://resnet101_v1c', backbone=dict(depth=101))
