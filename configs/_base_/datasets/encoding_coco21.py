# COCO 2017 restricted to VOC's 21 classes (PyTorch-Encoding's coco, used to pre-train VOC models)
# with PyTorch-Encoding's segmentation recipe (experiments/segmentation/train.py) as in
# encoding_ade20k.py: the same base 520 / crop 480, pipelines, TTA ratios, batch and loaders; only
# the dataset and its files differ here.
# tools/dataset_converters/coco21.py rasterises the instances and keeps, like Encoding, only the
# images with more than 1000 labelled pixels; the kept lists are the ann_files below.
_base_ = './encoding_ade20k.py'
dataset_type = 'COCO21Dataset'
data_root = 'data/coco'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train2017', seg_map_path='annotations21/train2017'),
        ann_file='annotations21/train2017.txt',
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val2017', seg_map_path='annotations21/val2017'),
        ann_file='annotations21/val2017.txt',
    )
)
test_dataloader = val_dataloader
