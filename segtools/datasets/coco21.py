"""COCO restricted to the 20 Pascal VOC categories plus background (PyTorch-Encoding's ``coco``)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.voc import PascalVOCDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class COCO21Dataset(BaseSegDataset):
    """COCO 2017 with VOC's 21 classes, as used to pre-train VOC models in PyTorch-Encoding.

    The converter rasterises the COCO instance polygons/RLE of the 20 VOC categories
    into PNG masks (0 = background, 1..20 = VOC ids; COCO categories without a VOC
    counterpart are background) and, like PyTorch-Encoding, keeps only images with
    more than 1000 labelled pixels. This class reads those PNGs; it does not need
    pycocotools. Classes and palette are VOC's.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(PascalVOCDataset.METAINFO)
    LAYOUT = """\
<data_root>/  (coco)
    train2017/*.jpg   val2017/*.jpg
    annotations21/{train2017,val2017}/*.png   (0 = background, 1..20 = VOC classes; written by the converter)
    annotations21/{train2017,val2017}.txt      (the images the converter kept: pass one as ann_file)
data_prefix=dict(img_path='train2017', seg_map_path='annotations21/train2017'),
ann_file='annotations21/train2017.txt'"""
    CONVERTER = 'coco21'

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
