# Pascal VOC 2012 (21 classes) with PyTorch-Encoding's segmentation recipe (experiments/segmentation/train.py)
# as in encoding_ade20k.py: the same base 520 / crop 480, pipelines, TTA ratios, batch and loaders;
# only the dataset and its files differ here.
# PyTorch-Encoding's pascal_voc training split is trainval.txt: the last fine-tuning stage before
# the test server (lr 0.0001, 50 epochs, after COCO and VOC aug). Here it is train.txt so that the
# val scores stay honest; for a test-server run set
#   --cfg-options train_dataloader.dataset.ann_file=ImageSets/Segmentation/trainval.txt
_base_ = './encoding_ade20k.py'
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
    )
)
test_dataloader = val_dataloader
