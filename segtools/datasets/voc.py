"""Pascal VOC 2012 segmentation (and the VOC + SBD "aug" training set), 21 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.validation import DatasetError, layout_hint
from segtools.palettes import VOC_CLASSES, VOC_PALETTE
from segtools.registry import DATASETS


@DATASETS.register_module()
class PascalVOCDataset(BaseSegDataset):
    """Pascal VOC 2012 segmentation, 21 classes including background (Everingham et al., IJCV 2010).

    Masks are palette PNGs whose indices are the class ids; 255 marks the object
    borders and "difficult" pixels and is kept as ``ignore_index``. A split file
    (``ann_file``) is required: ``ImageSets/Segmentation/{train,val}.txt`` for VOC,
    or the SBD-augmented list (``aug.txt``, with ``seg_map_path='SegmentationClassAug'``)
    that the converter writes. The palette is VOC's bit-interleaving colour map.

    Args:
        ann_file: Split list of basenames (required).
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=VOC_CLASSES, palette=VOC_PALETTE)
    LAYOUT = """\
<data_root>/  (VOCdevkit/VOC2012)
    JPEGImages/*.jpg
    SegmentationClass/*.png        (palette PNG: 0..20, 255 = border)
    SegmentationClassAug/*.png     (VOC + SBD, written by the converter)
    ImageSets/Segmentation/{train,val,trainval,aug}.txt
data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
ann_file='ImageSets/Segmentation/train.txt'"""
    CONVERTER = 'voc_aug'

    def __init__(self, ann_file: str = '', img_suffix: str = '.jpg', seg_map_suffix: str = '.png', **kwargs) -> None:
        if not ann_file:
            # VOC's image folder holds detection-only images too; only a split list says which have masks.
            raise DatasetError(
                'PascalVOCDataset needs ann_file (a split list), e.g. ann_file="ImageSets/Segmentation/train.txt".'
                + layout_hint(self.LAYOUT, self.CONVERTER)
            )
        super().__init__(ann_file=ann_file, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
