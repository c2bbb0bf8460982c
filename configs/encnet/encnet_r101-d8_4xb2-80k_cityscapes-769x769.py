# EncNet R-101-D8: encnet_r50-d8_4xb2-80k_cityscapes-769x769
# with a ResNet-101 backbone (only the depth changes).
_base_ = './encnet_r50-d8_4xb2-80k_cityscapes-769x769.py'
model = dict(backbone=dict(depth=101))
