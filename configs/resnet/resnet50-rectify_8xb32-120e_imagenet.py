# resnet50_baseline.sh, "# rectify": the baseline with rectified convolutions (RFConv2d for the
# padded stem and 3x3 convs, --rectify; --rectify-avg off).
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_rt --lr 0.1 --batch-size 256 --rectify
_base_ = './resnet50_8xb32-120e_imagenet.py'
model = dict(backbone=dict(rectified_conv=True, rectify_avg=False))
