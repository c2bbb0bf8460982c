# DeepLabV3 on a dilated ResNeSt-200, PyTorch-Encoding's DeepLab_ResNeSt200_PContext: the
# ResNeSt-50 Pascal Context recipe (80 epochs, lr 0.001) with depth 200.
_base_ = './deeplabv3_s50-d8_4xb4-80e_pascal-context-59-480x480.py'
model = dict(pretrained='segtools://resnest200', backbone=dict(depth=200))
