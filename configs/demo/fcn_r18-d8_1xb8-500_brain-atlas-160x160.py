# The demo: a narrow FCN-R18-D8 trained from scratch on the bundled brain-MRI atlas
# (data/brain_atlas, 107 train / 27 val slices, 12 classes) in a few minutes on 2 CPU cores.
#   python tools/train.py configs/demo/fcn_r18-d8_brain-atlas.py
#   tools/dist_train.sh configs/demo/fcn_r18-d8_brain-atlas.py 2     # gloo on CPU, SyncBN across ranks
#   python tools/test.py configs/demo/fcn_r18-d8_brain-atlas.py work_dirs/<name>/iter_500.pth
# Batch 8 is the total over one process; under dist_train with N processes it is 8 x N.
_base_ = [
    '../_base_/models/fcn_r18-d8.py',
    '../_base_/datasets/brain_atlas.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_20k.py',
]
crop_size = (160, 160)
max_iters = 500
data_preprocessor = dict(size=crop_size)
# Median-frequency class weights (power 0.5) of the training labels, from
#   python tools/analysis_tools/class_weights.py configs/demo/fcn_r18-d8_brain-atlas.py
# Background is 76% of the pixels and thalamus 0.08%; unweighted, the small deep structures
# (insula, basal ganglia, thalamus, vermis) stay at 0 IoU in this budget (mIoU ~29 instead of ~43).
class_weight = [0.52, 1.64, 1.89, 2.83, 2.93, 12.52, 4.09, 6.7, 11.19, 15.7, 2.29, 9.77]
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        num_classes=12,
        loss_decode=dict(type='CrossEntropyLoss', class_weight=class_weight, avg_non_ignore=True, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        num_classes=12,
        loss_decode=dict(type='CrossEntropyLoss', class_weight=class_weight, avg_non_ignore=True, loss_weight=0.4),
    ),
)
# Milder scale jitter than the dataset default and no colour distortion: the labels are
# anatomical regions told apart largely by where they lie, so crops should keep most of the
# slice at its native scale; hue/saturation jitter means nothing on a grayscale MRI.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(181, 217), ratio_range=(0.9, 1.2), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Iteration-based training draws batches from an endless shuffled stream (as mmseg does).
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dict(pipeline=train_pipeline))
# From scratch on a small set a larger step than ImageNet-initialised mmseg runs converges faster.
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False),
]
# Validation every 100 iterations (27 slices, a few seconds) draws the mIoU curve of `make demo`.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=100)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 2, max_keep_ckpts=2),
)
# Fixed seed: the demo's number in the README is reproducible.
randomness = dict(seed=0)
