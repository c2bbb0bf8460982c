# ADE20K (150 classes) with PyTorch-Encoding's segmentation recipe (experiments/segmentation/train.py):
#   train: long side random in [0.5, 2.0] x base_size (aspect kept), random crop_size crop, horizontal
#          flip; no photometric distortion, no blur, no rotation. A crop smaller than crop_size (short
#          side < crop) is padded by the data preprocessor, labels with 255 (Encoding pads them with 0).
#   test:  the whole image with its long side resized to base_size; predictions are resized back,
#          so metrics are computed at the original size (Encoding's testval mode).
#   tta:   long side base_size x r for r in img_ratios, each with and without flip (MultiEvalModule).
# segtools' EncodingRandomResize(base_size) draws the long side exactly as Encoding does (a
# random integer); the RandomResize below draws it as int(base_size * U(0.5, 2.0)): the same range.
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
base_size = 520
crop_size = (480, 480)
# PyTorch-Encoding trains with 16 images per step over all GPUs. tools/train.py sets
# train_dataloader.batch_size = total_batch_size // world_size; batch_size=4 below is what a
# 4-process run gets (and what a run without tools/train.py uses).
total_batch_size = 16
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # scale=(base, base) with keep_ratio: the long side becomes base_size x ratio.
    dict(type='RandomResize', scale=(base_size, base_size), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(base_size, base_size), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(int(base_size * r), int(base_size * r)), keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ],
    ),
]
# Epoch-based like PyTorch-Encoding: a shuffled pass per epoch, the last incomplete batch dropped.
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
