# ResNet-50 on ImageNet, the baseline of PyTorch-Encoding's experiments/recognition/resnet50_baseline.sh:
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_check --lr 0.025 --batch-size 64
# train_dist.py's defaults otherwise: 7x7-stem ResNet-50 from scratch, cross entropy, weight decay
# 1e-4 on every parameter, cosine over 120 epochs without warmup, no RandAugment, train and eval
# crops 224 (ERandomCrop / ECenterCrop). lr 0.025 per 64 images is 0.1 per 256 (8 x 32 here).
# The other configs of this folder each add one switch of the script, inheriting the line they
# extend (README.md).
_base_ = [
    '../_base_/models/resnet50_imagenet.py',
    '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime_cls.py',
    '../_base_/schedules/imagenet_cos_120e.py',
]
