# Pascal VOC 2012 trained on the SBD-augmented set with PyTorch-Encoding's recipe (see
# encoding_pascal_voc12.py): 10,582 images = (SBD train + SBD val + VOC train) minus VOC val,
# written by tools/dataset_converters/voc_aug.py, evaluated on VOC val. (Encoding's own pascal_aug
# trains on SBD train + val and validates on SBD val; the list here keeps VOC val out of training.)
_base_ = './encoding_pascal_voc12.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/aug.txt',
    )
)
