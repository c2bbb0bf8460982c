"""Pascal VOC 2012 segmentation (and the VOC + SBD "aug" training set), 21 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.validation import DatasetError, layout_hint
from segtools.registry import DATASETS

VOC_CLASSES = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
)  # fmt: skip


def voc_palette(num_colors: int = 256) -> list[list[int]]:
    """The VOC colour map: the bits of the class id are spread over the high bits of R, G and B.

    Bit ``3k + c`` of the id (c = 0 for R, 1 for G, 2 for B) becomes bit ``7 - k`` of
    channel ``c``; e.g. id 1 -> (128, 0, 0), id 2 -> (0, 128, 0), id 15 -> (192, 128, 128).

    Args:
        num_colors: How many ids to colour.

    Returns:
        ``num_colors`` ``[r, g, b]`` lists.
    """
    palette = []
    for class_id in range(num_colors):
        rgb = [0, 0, 0]
        value = class_id
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.append(rgb)
    return palette


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

    METAINFO = dict(classes=VOC_CLASSES, palette=voc_palette(len(VOC_CLASSES)))
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
