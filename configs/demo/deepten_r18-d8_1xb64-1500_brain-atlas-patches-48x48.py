# The recognition demo: Deep TEN (Zhang, Xue and Dana, CVPR 2017) on a narrow ResNetV1c-18 at output
# stride 8, trained from scratch to name the brain structure at the centre of a 48x48 patch of the
# bundled MRI slices (data/brain_atlas; BrainAtlasPatchDataset: 11 atlas classes, background left
# out, patch centres every 8 pixels; the val slices are the atlas's held-out slab).
#   make demo-recognition
#   python tools/train.py configs/demo/deepten_r18-d8_1xb64-1500_brain-atlas-patches-48x48.py
_base_ = ['../_base_/default_runtime_cls.py']
crop_size = 48
max_iters = 1500
num_classes = 11
data_root = 'data/brain_atlas'

model = dict(
    type='ImageClassifier',
    # The slices are grayscale (replicated to 3 channels by the loader): one mean and std for all.
    data_preprocessor=dict(type='ClsDataPreProcessor', mean=[70.0] * 3, std=[70.0] * 3),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(3,),
        norm_cfg=dict(type='BN'),
    ),
    # 6x6 = 36 local descriptors per patch, encoded against 16 codewords of 64 channels.
    head=dict(
        type='DeepTENHead',
        num_classes=num_classes,
        in_channels=256,
        channels=64,
        num_codes=16,
        loss=dict(type='LabelSmoothingCrossEntropyLoss', smoothing=0.1),
    ),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # The labelled point stays inside the patch, not always at its exact centre.
    dict(type='CropAroundCenter', crop_size=crop_size, max_shift=4),
    # Left and right hemispheres share classes: a horizontal flip keeps the label.
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropAroundCenter', crop_size=crop_size),
    dict(type='PackClsInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='CropAroundCenter', crop_size=crop_size)],
            [dict(type='RandomFlip', prob=0.0), dict(type='RandomFlip', prob=1.0)],
            [dict(type='PackClsInputs')],
        ],
    ),
]
dataset = dict(type='BrainAtlasPatchDataset', data_root=data_root, stride=8)
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'), pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='TopKAccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=0.0, begin=100, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 2, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
