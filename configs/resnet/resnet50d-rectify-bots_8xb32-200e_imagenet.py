# resnet50_baseline.sh, "# resnet50d": the BoTs recipe on ResNet-50-D (PyTorch-Encoding's resnet50d:
# deep stem of 3x3 convs 32-32-64, average-pool shortcuts; segtools' ResNetV1d).
#   python train_dist.py --dataset imagenet --model resnet50d --lr-scheduler cos --epochs 200
#       --checkname resnet50d_rt_bots --lr 0.1 --batch-size 256 --label-smoothing 0.1 --mixup 0.2
#       --last-gamma --no-bn-wd --warmup-epochs 5 --rectify
_base_ = './resnet50-rectify-bots_8xb32-200e_imagenet.py'
model = dict(backbone=dict(type='ResNetV1d', stem_channels=64))
