# DeepLabV3 on a dilated ResNeSt-269, PyTorch-Encoding's DeepLab_ResNeSt269_ADE:
#   python train_dist.py --dataset ade20k --model deeplab --aux --backbone resnest269
# The ResNeSt-50 recipe (train_dist.py's default 120 epochs) with depth 269.
_base_ = './deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py'
model = dict(pretrained='segtools://resnest269', backbone=dict(depth=269))
