# Pascal Context, 59 classes (background ignored), with PyTorch-Encoding's segmentation recipe
# (experiments/segmentation/train.py) as in encoding_ade20k.py: the same base 520 / crop 480,
# pipelines, TTA ratios, batch and loaders; only the dataset and its files differ here.
_base_ = './encoding_ade20k.py'
dataset_type = 'PascalContextDataset59'
data_root = 'data/VOCdevkit/VOC2010'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/train.txt',
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
    )
)
test_dataloader = val_dataloader
