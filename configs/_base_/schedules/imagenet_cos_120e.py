# PyTorch-Encoding's ImageNet schedule (experiments/recognition/train_dist.py defaults) as mmengine
# epoch-based training:
# - SGD, momentum 0.9, weight decay 1e-4 on every parameter (--no-bn-wd off). lr 0.1 for 256 images:
#   train_dist.py's --lr is per process and multiplied by the process count, and every published
#   command keeps 0.1 per 256 (0.025 x 64, 0.0125 x 32 per process). The configs train with
#   total_batch_size = 256 (the imagenet dataset base), hence lr 0.1.
# - --lr-scheduler cos without warmup (--warmup-epochs 0): 0.5 * lr * (1 + cos(pi * T / T_total)) at
#   every iteration, T_total = all iterations (CosineAnnealingLR converted to iterations).
# - 120 epochs (--epochs default); validation every 10 epochs (train_dist.py validates at epochs
#   0, 10, 20, ...; here after epochs 10, 20, ..., so the last one is validated too).
# imagenet_cos-warmup5_270e.py is the ResNeSt schedule (5 warmup epochs, 270 epochs).
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=120, eta_min=0.0, begin=0, end=120, by_epoch=True, convert_to_iter_based=True),
]
# The lr above is per 256 images; mmengine rescales it for another total batch when enabled.
auto_scale_lr = dict(enable=False, base_batch_size=256)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=120, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # train_dist.py keeps the last checkpoint and the best top-1 (model_best.pth.tar).
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=2, save_best='top1', rule='greater'
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
