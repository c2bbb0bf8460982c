# Deep TEN's MINC-2500 schedule (PyTorch-Encoding docs/source/tutorials/texture.rst):
#   CUDA_VISIBLE_DEVICES=0,1,2,3 python main.py --dataset minc --model deepten_resnet50_minc
#       --batch-size 512 --lr 0.004 --epochs 80 --lr-step 60 --lr-scheduler step --weight-decay 5e-4
# (the tutorial calls it train_dist.py, which has no --lr-step; the command is experiments/recognition/
# main.py's of v1.0.0: one process, DataParallel, so --batch-size 512 is the batch over the 4 GPUs).
# - SGD, momentum 0.9 (default), weight decay 5e-4 on every parameter, lr 0.004 for 512 images.
#   One parameter group: main.py passes model.parameters() to SGD, so the 10x encoding-layer lr the
#   tutorial's prose mentions is not in the command that trained the published weights.
# - Step decay lr * 0.1 ** (epoch // 60) with main.py's epochs numbered 1..80: the lr drops at its
#   60th epoch, i.e. after 59 full-lr epochs (mmengine counts from 0: milestone 59). No warmup.
# - Validation after every epoch, as main.py does.
optimizer = dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [dict(type='MultiStepLR', milestones=[59], gamma=0.1, begin=0, end=80, by_epoch=True)]
auto_scale_lr = dict(enable=False, base_batch_size=512)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=80, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=2, save_best='top1', rule='greater'
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
