"""Cityscapes fine annotations, 19 evaluation classes (trainIds)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.palettes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from segtools.registry import DATASETS


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
