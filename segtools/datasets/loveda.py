"""LoveDA land-cover segmentation (remote sensing), 7 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class LoveDADataset(BaseSegDataset):
    """LoveDA (Wang et al., NeurIPS 2021 datasets track): urban and rural 1024x1024 tiles, 7 classes.

    Masks store 0 for no-data and 1..7 for the classes, so ``reduce_zero_label=True`` (as
    MMSegmentation's configs set it) maps them to 255 and 0..6.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: Keep ``True``: 0 is no-data.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(
        classes=('background', 'building', 'road', 'water', 'barren', 'forest', 'agricultural'),
        palette=[[255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 0, 255], [159, 129, 183], [0, 255, 0],
                 [255, 195, 128]],
    )  # fmt: skip
    LAYOUT = """\
<data_root>/  (loveDA)
    img_dir/{train,val,test}/<id>.png
    ann_dir/{train,val}/<id>.png   (0 = no-data (ignored), 1..7 = the classes)
data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')"""

    def __init__(
        self, img_suffix: str = '.png', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
