"""Cityscapes fine annotations, 19 evaluation classes (trainIds)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.registry import DATASETS

CITYSCAPES_CLASSES = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
    'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
)  # fmt: skip
CITYSCAPES_PALETTE = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
    [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
]  # fmt: skip


@DATASETS.register_module()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes, 19 classes (Cordts et al., CVPR 2016), official colours.

    Reads ``*_gtFine_labelTrainIds.png`` masks (0..18, 255 = ignore), which the
    converter derives from the official ``*_gtFine_labelIds.png`` (ids 0..33). Pointing
    the dataset at labelIds masks fails validation with the values it found. Files are
    found by a recursive scan of the per-city folders.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)
    LAYOUT = """\
<data_root>/  (cityscapes)
    leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
    gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png   (0..18, 255 = ignore; written by the converter)
data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')"""
    CONVERTER = 'cityscapes'

    def __init__(
        self,
        img_suffix: str = '_leftImg8bit.png',
        seg_map_suffix: str = '_gtFine_labelTrainIds.png',
        **kwargs,
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
