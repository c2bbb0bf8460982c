# UPerNet R-101: upernet_r50_4xb2-80k_cityscapes-769x769
# with a ResNet-101 backbone (only the depth changes).
_base_ = './upernet_r50_4xb2-80k_cityscapes-769x769.py'
model = dict(backbone=dict(depth=101))
