"""ISPRS Potsdam 2D semantic labelling (remote sensing), 6 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.registry import DATASETS

ISPRS_CLASSES = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car', 'clutter')
ISPRS_PALETTE = [[255, 255, 255], [0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0]]
# Image and mask tiles as MMSegmentation's ISPRS converters cut them.
ISPRS_TILES_LAYOUT = """\
<data_root>/  ({name})
    img_dir/{{train,val}}/<tile>.png
    ann_dir/{{train,val}}/<tile>.png   (0 = no label (ignored), 1..6 = the classes)
data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')"""


@DATASETS.register_module()
class PotsdamDataset(BaseSegDataset):
    """ISPRS Potsdam (Rottensteiner et al., 2012): 6 land-cover classes on 512x512 tiles.

    Masks store 0 for unlabelled pixels and 1..6 for the classes, so ``reduce_zero_label=True``
    (as MMSegmentation's configs set it) maps them to 255 and 0..5.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: Keep ``True``: 0 is "no label".
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=ISPRS_CLASSES, palette=ISPRS_PALETTE)
    LAYOUT = ISPRS_TILES_LAYOUT.format(name='potsdam')

    def __init__(
        self, img_suffix: str = '.png', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
