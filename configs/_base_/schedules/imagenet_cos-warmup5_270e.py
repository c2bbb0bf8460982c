# The ResNeSt ImageNet schedule (PyTorch-Encoding docs/source/model_zoo/imagenet.rst commands:
# --lr-scheduler cos --epochs 270 --warmup-epochs 5): imagenet_cos_120e.py's SGD (lr 0.1 per 256
# images, momentum 0.9, wd 1e-4) for 270 epochs, with a linear warmup:
# - epochs 0-4: lr rises linearly to 0.1 at every iteration (Encoding's lr * T / T_warmup; mmengine's
#   LinearLR cannot start at 0 and starts at 0.001 lr);
# - then 0.5 * lr * (1 + cos(pi * T / T_total)), T counted from the end of the warmup and T_total
#   the post-warmup iterations: exactly Encoding's LR_Scheduler (CosineAnnealingLR's T_max = 265).
# A config with --no-bn-wd adds paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0).
_base_ = './imagenet_cos_120e.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=5, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=265, eta_min=0.0, begin=5, end=270, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=270)
