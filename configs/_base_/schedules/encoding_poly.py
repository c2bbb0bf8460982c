# PyTorch-Encoding's segmentation training schedule (experiments/segmentation/train.py), poly
# decay, with a linear warmup, as mmengine epoch-based training:
# - SGD, momentum 0.9, weight decay 1e-4 on every parameter. lr 0.004 is Encoding's value per 16
#   images for ADE20K, COCO and Cityscapes (total_batch_size = 16 in the encoding_* datasets).
# - The heads train at 10x the backbone lr, as Encoding's LR_Scheduler_Head does (backbone group at
#   lr, every other group at 10 lr): decode_head, auxiliary_head and neck get lr_mult=10.
# - The lr changes every iteration (convert_to_iter_based): 1 warmup epoch rising linearly to lr,
#   then lr * (1 - T / T_total) ** 0.9, T counted from the end of the warmup (T_total excludes it).
#   mmengine's discretisation differs from Encoding's by one iteration: the warmup starts at
#   0.001 lr (mmengine's LinearLR cannot start at 0) and reaches lr one iteration earlier, and
#   PolyLR reaches 0 on the last iteration (T_total - 1) instead of one iteration after it.
# - 120 epochs (Encoding's train_dist.py ADE20K default); validation every 10 epochs and at the end.
# The published per-dataset recipes (no warmup) are encoding_poly_<dataset>-<N>e.py.
optimizer = dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(
        custom_keys={
            'decode_head': dict(lr_mult=10.0),
            'auxiliary_head': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
        }
    ),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1, by_epoch=True, convert_to_iter_based=True),
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=1, end=120, by_epoch=True, convert_to_iter_based=True),
]
# The lr above is per 16 images; mmengine rescales it for another total batch when enabled.
auto_scale_lr = dict(enable=False, base_batch_size=16)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=120, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
