# resnet50_baseline.sh, "# BoTs" (the bag of tricks together): rectify, label smoothing 0.1,
# Mixup 0.2, last gamma, no weight decay on norms and biases, 5 warmup epochs, 200 epochs.
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 200
#       --checkname resnet50_rt_bots --lr 0.1 --batch-size 256 --label-smoothing 0.1 --mixup 0.2
#       --last-gamma --no-bn-wd --warmup-epochs 5 --rectify
_base_ = './resnet50-rectify-ls-mixup_8xb32-200e_imagenet.py'
model = dict(backbone=dict(zero_init_residual=True))
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=5, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=0.0, begin=5, end=200, by_epoch=True, convert_to_iter_based=True),
]
