# EncNet R-101-D8: encnet_r50-d8_4xb2-40k_cityscapes-512x1024
# with a ResNet-101 backbone (only the depth changes).
_base_ = './encnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
model = dict(backbone=dict(depth=101))
