"""Nighttime Driving test set, labelled with the 19 Cityscapes classes."""

from segtools.datasets.cityscapes import CityscapesDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class NightDrivingDataset(CityscapesDataset):
    """Nighttime Driving (Dai and Van Gool, ITSC 2018): 50 night images with coarse Cityscapes trainIds.

    A test set for models trained on Cityscapes (mmseg's ``*_night-driving-1920x1080.py``
    configs); classes, palette and the recursive file scan are Cityscapes'.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix (coarse trainIds, 255 = ignore).
        **kwargs: Forwarded to :class:`CityscapesDataset`.
    """

    LAYOUT = """\
<data_root>/  (NighttimeDrivingTest)
    leftImg8bit/test/night/<name>_leftImg8bit.png
    gtCoarse_daytime_trainvaltest/test/night/<name>_gtCoarse_labelTrainIds.png   (0..18, 255 = ignore)
data_prefix=dict(img_path='leftImg8bit/test/night', seg_map_path='gtCoarse_daytime_trainvaltest/test/night')"""
    CONVERTER = None

    def __init__(
        self,
        img_suffix: str = '_leftImg8bit.png',
        seg_map_suffix: str = '_gtCoarse_labelTrainIds.png',
        **kwargs,
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
