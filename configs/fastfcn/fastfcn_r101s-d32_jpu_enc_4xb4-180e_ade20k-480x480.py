# FastFCN EncNet + JPU R-101s: fastfcn_r50s-d32_jpu_enc_4xb4-180e_ade20k-480x480
# with a ResNet-101 backbone (the depth and its ImageNet weights change).
_base_ = './fastfcn_r50s-d32_jpu_enc_4xb4-180e_ade20k-480x480.py'
model = dict(pretrained='segtools://resnet101s', backbone=dict(depth=101))
