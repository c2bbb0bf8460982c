"""iSAID semantic segmentation of aerial images, 16 classes (background included)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class iSAIDDataset(BaseSegDataset):  # noqa: N801 - MMSegmentation's registered name
    """iSAID (Waqas Zamir et al., CVPR workshops 2019): 15 object classes and background on 896x896 patches.

    Masks are class ids 0..15 (0 = background, a class) named ``<patch>_instance_color_RGB.png``
    after the colour files they were converted from (MMSegmentation's ``isaid.py`` converter);
    255 is ignored.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(
        classes=('background', 'ship', 'store_tank', 'baseball_diamond', 'tennis_court', 'basketball_court',
                 'Ground_Track_Field', 'Bridge', 'Large_Vehicle', 'Small_Vehicle', 'Helicopter', 'Swimming_pool',
                 'Roundabout', 'Soccer_ball_field', 'plane', 'Harbor'),
        palette=[[0, 0, 0], [0, 0, 63], [0, 63, 63], [0, 63, 0], [0, 63, 127], [0, 63, 191], [0, 63, 255],
                 [0, 127, 63], [0, 127, 127], [0, 0, 127], [0, 0, 191], [0, 0, 255], [0, 191, 127], [0, 127, 191],
                 [0, 127, 255], [0, 100, 155]],
    )  # fmt: skip
    LAYOUT = """\
<data_root>/  (iSAID)
    img_dir/{train,val}/<patch>.png
    ann_dir/{train,val}/<patch>_instance_color_RGB.png   (0..15 class ids, 255 = ignore)
data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')"""

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '_instance_color_RGB.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
