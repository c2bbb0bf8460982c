"""ISPRS Vaihingen 2D semantic labelling (remote sensing), 6 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.potsdam import ISPRS_CLASSES, ISPRS_PALETTE, ISPRS_TILES_LAYOUT
from segtools.registry import DATASETS


@DATASETS.register_module()
class ISPRSDataset(BaseSegDataset):
    """ISPRS Vaihingen (Rottensteiner et al., 2012): Potsdam's 6 classes on 512x512 tiles.

    MMSegmentation's name for Vaihingen. Masks store 0 for unlabelled pixels and 1..6 for the
    classes, so ``reduce_zero_label=True`` maps them to 255 and 0..5.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: Keep ``True``: 0 is "no label".
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=ISPRS_CLASSES, palette=ISPRS_PALETTE)
    LAYOUT = ISPRS_TILES_LAYOUT.format(name='vaihingen')

    def __init__(
        self, img_suffix: str = '.png', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
