"""ADE20K (SceneParsing / ADEChallengeData2016), 150 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.palettes import ADE20K_CLASSES, ADE20K_PALETTE
from segtools.registry import DATASETS


@DATASETS.register_module()
class ADE20KDataset(BaseSegDataset):
    """ADE20K scene parsing, 150 classes (Zhou et al., "Scene Parsing through ADE20K Dataset", CVPR 2017).

    Masks store 0 for "other/unlabelled" and 1..150 for the classes, so
    ``reduce_zero_label=True`` maps 0 -> 255 and k -> k-1. The class names follow
    the official ``objectInfo150`` short names (mmseg's ``'bed '`` has its trailing
    space removed). The palette is a deterministic generated one (seed 42), not the
    official colour table.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: Keep ``True`` for the official masks.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=ADE20K_CLASSES, palette=ADE20K_PALETTE)
    LAYOUT = """\
<data_root>/  (ADEChallengeData2016)
    images/training/*.jpg      images/validation/*.jpg
    annotations/training/*.png annotations/validation/*.png  (0 = other, 1..150 = classes)
data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')"""
    CONVERTER = 'ade20k'

    def __init__(
        self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
