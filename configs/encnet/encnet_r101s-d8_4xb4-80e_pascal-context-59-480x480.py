# PyTorch-Encoding's EncNet_ResNet101s_PContext (--backbone resnet101): the R-50s recipe with
# depth 101. Published: 54.1 mIoU / 80.7 pixAcc (Pascal Context val).
_base_ = './encnet_r50s-d8_4xb4-80e_pascal-context-59-480x480.py'
model = dict(pretrained='segtools://resnet101s', backbone=dict(depth=101))
