# UPerNet R-101: upernet_r50_4xb4-80k_ade20k-512x512
# with a ResNet-101 backbone (only the depth changes).
_base_ = './upernet_r50_4xb4-80k_ade20k-512x512.py'
model = dict(backbone=dict(depth=101))
