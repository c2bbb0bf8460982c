"""ISPRS Vaihingen 2D semantic labelling (remote sensing), 6 classes."""

from segtools.datasets.potsdam import ISPRS_TILES_LAYOUT, PotsdamDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class ISPRSDataset(PotsdamDataset):
    """ISPRS Vaihingen (Rottensteiner et al., 2012): Potsdam's 6 classes and tile format.

    MMSegmentation's name for Vaihingen. Masks store 0 for unlabelled pixels and 1..6 for the
    classes, so ``reduce_zero_label=True`` maps them to 255 and 0..5 (see :class:`PotsdamDataset`,
    whose arguments it takes).
    """

    LAYOUT = ISPRS_TILES_LAYOUT.format(name='vaihingen')
