"""Pascal Context, 60 classes (59 object/stuff classes plus background)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.palettes import generate_palette
from segtools.registry import DATASETS

PASCAL_CONTEXT59_CLASSES = (
    'aeroplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird', 'boat', 'book', 'bottle',
    'building', 'bus', 'cabinet', 'car', 'cat', 'ceiling', 'chair', 'cloth', 'computer', 'cow',
    'cup', 'curtain', 'dog', 'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground',
    'horse', 'keyboard', 'light', 'motorbike', 'mountain', 'mouse', 'person', 'plate', 'platform', 'pottedplant',
    'road', 'rock', 'sheep', 'shelves', 'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table',
    'track', 'train', 'tree', 'truck', 'tvmonitor', 'wall', 'water', 'window', 'wood',
)  # fmt: skip
PASCAL_CONTEXT_CLASSES = ('background', *PASCAL_CONTEXT59_CLASSES)

PASCAL_CONTEXT_LAYOUT = """\
<data_root>/  (VOCdevkit/VOC2010)
    JPEGImages/*.jpg
    SegmentationClassContext/*.png   (0 = background, 1..59 = classes; written by the converter)
    ImageSets/SegmentationContext/{train,val}.txt
data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
ann_file='ImageSets/SegmentationContext/train.txt'"""


@DATASETS.register_module()
class PascalContextDataset(BaseSegDataset):
    """Pascal Context with background as a class, 60 classes (Mottaghi et al., CVPR 2014).

    The converter writes masks with 0 = background and 1..59 = the 59 most frequent
    classes (everything else -> 0). This variant trains background as class 0; use
    :class:`PascalContextDataset59` to ignore it. The palette is a deterministic
    generated one (seed 42).

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: ``False``: background is class 0.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=PASCAL_CONTEXT_CLASSES, palette=generate_palette(len(PASCAL_CONTEXT_CLASSES)))
    LAYOUT = PASCAL_CONTEXT_LAYOUT
    CONVERTER = 'pascal_context'

    def __init__(
        self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', reduce_zero_label: bool = False, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
