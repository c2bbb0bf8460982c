# UPerNet R-101: upernet_r50_4xb4-20k_voc12aug-512x512
# with a ResNet-101 backbone (the depth and its ImageNet weights change).
_base_ = './upernet_r50_4xb4-20k_voc12aug-512x512.py'
model = dict(pretrained='segtools://resnet101_v1c', backbone=dict(depth=101))
