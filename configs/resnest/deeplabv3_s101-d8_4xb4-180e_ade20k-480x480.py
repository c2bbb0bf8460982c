# DeepLabV3 on a dilated ResNeSt-101, PyTorch-Encoding's DeepLab_ResNeSt101_ADE:
#   python train_dist.py --dataset ade20k --model deeplab --aux --backbone resnest101 --epochs 180
# The ResNeSt-50 recipe with depth 101 (deep stem of 128 channels, ResNeSt's default at this
# depth) and 180 epochs instead of train_dist.py's default 120.
_base_ = './deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py'
model = dict(pretrained='segtools://resnest101', backbone=dict(depth=101))
max_epochs = 180
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
