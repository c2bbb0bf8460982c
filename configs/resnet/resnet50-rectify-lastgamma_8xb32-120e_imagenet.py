# resnet50_baseline.sh, "# last-gamma": rectify plus the last BN of every bottleneck zero-initialised.
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_rt_gamma --lr 0.1 --batch-size 256 --last-gamma --rectify
# PyTorch-Encoding's PyTorch ResNet zeroes bn3.weight in Bottleneck.__init__ and then sets every BN
# weight back to 1 in ResNet.__init__, so its --last-gamma does nothing at HEAD; here (and in
# Gluon, which trained the published ResNeSts) the zeros stay.
_base_ = './resnet50-rectify_8xb32-120e_imagenet.py'
model = dict(backbone=dict(zero_init_residual=True))
