# Pascal VOC 2012 trained on the SBD-augmented set ("VOC aug", Hariharan et al., ICCV 2011):
# 10,582 images = (SBD train + SBD val + VOC train) minus VOC val, evaluated on VOC val (1,449).
# tools/dataset_converters/voc_aug.py writes SegmentationClassAug/ and
# ImageSets/Segmentation/aug.txt; the masks of the VOC train images in it are VOC's own (with the
# 255 border), the others come from SBD.
#
# mmseg concatenates VOC train with its aug list, but that list already holds the VOC train
# images, so the concatenation would show those 1,464 images twice per epoch; here the train
# dataset is the aug list alone (the standard 10,582-image set). Validation is pascal_voc12.py's.
_base_ = './pascal_voc12.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/aug.txt',
    )
)
