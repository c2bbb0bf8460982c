# resnet50_baseline.sh, "# Mixup + LS": rectify and label smoothing 0.1, plus Mixup (alpha 0.2) and
# 200 epochs. Mixed batches train on soft targets: with label smoothing s the head's loss becomes
# the soft-target cross entropy of (1 - s) * mixed + s / 1000, train_dist.py's NLLMultiLabelSmooth.
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 200
#       --checkname resnet50_rt_ls_mixup --lr 0.1 --batch-size 256 --label-smoothing 0.1 --mixup 0.2 --rectify
_base_ = './resnet50-rectify-ls_8xb32-120e_imagenet.py'
model = dict(data_preprocessor=dict(batch_augments=[dict(type='Mixup', alpha=0.2)]))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=0.0, begin=0, end=200, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=200)
