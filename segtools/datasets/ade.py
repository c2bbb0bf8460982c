"""ADE20K (SceneParsing / ADEChallengeData2016), 150 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset, generate_palette
from segtools.registry import DATASETS

ADE20K_CLASSES = (
    'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed', 'windowpane', 'grass', 'cabinet',
    'sidewalk', 'person', 'earth', 'door', 'table', 'mountain', 'plant', 'curtain', 'chair', 'car', 'water',
    'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror', 'rug', 'field', 'armchair', 'seat', 'fence', 'desk',
    'rock', 'wardrobe', 'lamp', 'bathtub', 'railing', 'cushion', 'base', 'box', 'column', 'signboard',
    'chest of drawers', 'counter', 'sand', 'sink', 'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path',
    'stairs', 'runway', 'case', 'pool table', 'pillow', 'screen door', 'stairway', 'river', 'bridge', 'bookcase',
    'blind', 'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench', 'countertop', 'stove', 'palm',
    'kitchen island', 'computer', 'swivel chair', 'boat', 'bar', 'arcade machine', 'hovel', 'bus', 'towel', 'light',
    'truck', 'tower', 'chandelier', 'awning', 'streetlight', 'booth', 'television receiver', 'airplane', 'dirt track',
    'apparel', 'pole', 'land', 'bannister', 'escalator', 'ottoman', 'bottle', 'buffet', 'poster', 'stage', 'van',
    'ship', 'fountain', 'conveyer belt', 'canopy', 'washer', 'plaything', 'swimming pool', 'stool', 'barrel',
    'basket', 'waterfall', 'tent', 'bag', 'minibike', 'cradle', 'oven', 'ball', 'food', 'step', 'tank', 'trade name',
    'microwave', 'pot', 'animal', 'bicycle', 'lake', 'dishwasher', 'screen', 'blanket', 'sculpture', 'hood', 'sconce',
    'vase', 'traffic light', 'tray', 'ashcan', 'fan', 'pier', 'crt screen', 'plate', 'monitor', 'bulletin board',
    'shower', 'radiator', 'glass', 'clock', 'flag',
)  # fmt: skip


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

    METAINFO = dict(classes=ADE20K_CLASSES, palette=generate_palette(len(ADE20K_CLASSES)))
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
