# Cityscapes (19 classes, 2048x1024 images) with PyTorch-Encoding's segmentation recipe
# (experiments/segmentation/train.py) as in encoding_ade20k.py (batch, loaders, evaluator), at
# base 1024 / crop 768 with Encoding's Cityscapes TTA scales. mmengine does not re-evaluate the
# base's pipelines with the sizes below, so the pipelines that use them are spelt out again.
_base_ = './encoding_ade20k.py'
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes'
base_size = 1024
crop_size = (768, 768)
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
# Encoding's test.py uses these 7 scales for Cityscapes (0.5..1.75 for the other datasets).
img_ratios = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25]
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
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline,
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline,
    )
)
test_dataloader = val_dataloader
