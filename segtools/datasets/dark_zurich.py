"""Dark Zurich night validation set, labelled with the 19 Cityscapes classes."""

from segtools.datasets.cityscapes import CityscapesDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class DarkZurichDataset(CityscapesDataset):
    """Dark Zurich (Sakaridis et al., ICCV 2019): night images with fine Cityscapes trainIds.

    A test set for models trained on Cityscapes (mmseg's ``*_dark-zurich-1920x1080.py``
    configs use its 50 validation images); classes, palette and the recursive file scan are
    Cityscapes'.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix (trainIds, 255 = ignore).
        **kwargs: Forwarded to :class:`CityscapesDataset`.
    """

    LAYOUT = """\
<data_root>/  (dark_zurich)
    rgb_anon/val/night/GOPR0356/<name>_rgb_anon.png
    gt/val/night/GOPR0356/<name>_gt_labelTrainIds.png   (0..18, 255 = ignore)
data_prefix=dict(img_path='rgb_anon/val/night/GOPR0356', seg_map_path='gt/val/night/GOPR0356')"""
    CONVERTER = None

    def __init__(
        self,
        img_suffix: str = '_rgb_anon.png',
        seg_map_suffix: str = '_gt_labelTrainIds.png',
        **kwargs,
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
