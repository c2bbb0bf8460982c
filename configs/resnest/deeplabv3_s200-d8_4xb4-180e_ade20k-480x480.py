# DeepLabV3 on a dilated ResNeSt-200, PyTorch-Encoding's DeepLab_ResNeSt200_ADE:
#   python train_dist.py --dataset ade20k --model deeplab --aux --backbone resnest200 --epochs 180
# The ResNeSt-101 recipe (180 epochs) with depth 200.
_base_ = './deeplabv3_s101-d8_4xb4-180e_ade20k-480x480.py'
model = dict(pretrained='segtools://resnest200', backbone=dict(depth=200))
