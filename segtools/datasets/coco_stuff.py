"""COCO-Stuff 164k, 171 classes (80 things + 91 stuff)."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.palettes import generate_palette
from segtools.registry import DATASETS

COCO_STUFF_CLASSES = (
    # 80 thing classes
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
    'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
    'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
    'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush',
    # 91 stuff classes
    'banner', 'blanket', 'branch', 'bridge', 'building-other', 'bush', 'cabinet', 'cage', 'cardboard', 'carpet',
    'ceiling-other', 'ceiling-tile', 'cloth', 'clothes', 'clouds', 'counter', 'cupboard', 'curtain', 'desk-stuff',
    'dirt', 'door-stuff', 'fence', 'floor-marble', 'floor-other', 'floor-stone', 'floor-tile', 'floor-wood',
    'flower', 'fog', 'food-other', 'fruit', 'furniture-other', 'grass', 'gravel', 'ground-other', 'hill', 'house',
    'leaves', 'light', 'mat', 'metal', 'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper',
    'pavement', 'pillow', 'plant-other', 'plastic', 'platform', 'playingfield', 'railing', 'railroad', 'river',
    'road', 'rock', 'roof', 'rug', 'salad', 'sand', 'sea', 'shelf', 'sky-other', 'skyscraper', 'snow',
    'solid-other', 'stairs', 'stone', 'straw', 'structural-other', 'table', 'tent', 'textile-other', 'towel',
    'tree', 'vegetable', 'wall-brick', 'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone', 'wall-tile',
    'wall-wood', 'water-other', 'waterdrops', 'window-blind', 'window-other', 'wood',
)  # fmt: skip


@DATASETS.register_module()
class COCOStuffDataset(BaseSegDataset):
    """COCO-Stuff 164k, 171 classes (Caesar et al., "COCO-Stuff: Thing and Stuff Classes in Context", CVPR 2018).

    The official stuffthingmaps use 182 sparse ids (0..181, with 11 thing ids unused);
    the converter compacts them to 0..170 with 255 = unlabelled and writes
    ``*_labelTrainIds.png``. The palette is a deterministic generated one (seed 42).

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=COCO_STUFF_CLASSES, palette=generate_palette(len(COCO_STUFF_CLASSES)))
    LAYOUT = """\
<data_root>/  (coco_stuff164k)
    images/{train2017,val2017}/*.jpg
    annotations/{train2017,val2017}/*_labelTrainIds.png   (0..170, 255 = unlabelled; written by the converter)
data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017')"""
    CONVERTER = 'coco_stuff164k'

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
