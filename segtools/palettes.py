"""Class palettes: the colours (and class names) of the named datasets, and generated palettes.

Palettes are data, shared by the datasets (their ``METAINFO``), the visualization (named
palettes, colouring, palette PNGs) and the tools, so they live here, in a module that imports
only numpy and costs nothing to import; the datasets take their palettes from it and nothing
writes one twice.

``NAMED_PALETTES`` maps the names the visualization accepts (``'ade'``, ``'cityscapes'``,
``'voc'``, ``'brain_atlas'`` and aliases) to ``dict(classes=..., palette=...)``: ``'voc'`` is
VOC's bit-interleaving colour map, ``'cityscapes'`` the official 19 train-id colours, ``'ade'``
the deterministic generated palette (seed 42) the ADE20K dataset uses (not the official ADE
colour table), ``'brain_atlas'`` the bundled brain-MRI dataset's colours.
"""

import numpy as np


def generate_palette(num_classes: int, seed: int = 42) -> list[list[int]]:
    """A deterministic random palette, drawn from a private generator (the global RNG is untouched).

    Args:
        num_classes: Number of colours.
        seed: Generator seed; 42 as in mmseg so palettes are stable across runs.

    Returns:
        ``num_classes`` ``[r, g, b]`` lists.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3)).tolist()


def voc_palette(num_colors: int = 256) -> list[list[int]]:
    """The VOC colour map: the bits of the class id are spread over the high bits of R, G and B.

    Bit ``3k + c`` of the id (c = 0 for R, 1 for G, 2 for B) becomes bit ``7 - k`` of
    channel ``c``; e.g. id 1 -> (128, 0, 0), id 2 -> (0, 128, 0), id 15 -> (192, 128, 128).

    Args:
        num_colors: How many ids to colour.

    Returns:
        ``num_colors`` ``[r, g, b]`` lists.
    """
    palette = []
    for class_id in range(num_colors):
        rgb = [0, 0, 0]
        value = class_id
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.append(rgb)
    return palette


# ADE20K (SceneParsing, 150 classes): official ``objectInfo150`` short names, generated colours.
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
ADE20K_PALETTE = generate_palette(len(ADE20K_CLASSES))

# Cityscapes, 19 evaluation classes (trainIds), official colours.
CITYSCAPES_CLASSES = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
    'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
)  # fmt: skip
CITYSCAPES_PALETTE = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
    [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
]  # fmt: skip

# Pascal VOC 2012, 21 classes including background, VOC's colour map.
VOC_CLASSES = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
)  # fmt: skip
VOC_PALETTE = voc_palette(len(VOC_CLASSES))

# The bundled brain-MRI dataset (Colin27 T1 + grouped AAL atlas), 12 classes. Distinct colours
# (Trubetskoy's 20-colour list), black for background.
BRAIN_ATLAS_CLASSES = (
    'background', 'frontal', 'parietal', 'temporal', 'occipital', 'insula', 'cingulate', 'hippocampus_amygdala',
    'basal_ganglia', 'thalamus', 'cerebellum', 'vermis',
)  # fmt: skip
BRAIN_ATLAS_PALETTE = [
    [0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128],
]  # fmt: skip

_ADE20K = dict(classes=ADE20K_CLASSES, palette=ADE20K_PALETTE)
_CITYSCAPES = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)
_VOC = dict(classes=VOC_CLASSES, palette=VOC_PALETTE)
NAMED_PALETTES: dict[str, dict] = {
    'ade': _ADE20K,
    'ade20k': _ADE20K,
    'cityscapes': _CITYSCAPES,
    'voc': _VOC,
    'pascal_voc': _VOC,
    'brain_atlas': dict(classes=BRAIN_ATLAS_CLASSES, palette=BRAIN_ATLAS_PALETTE),
}

__all__ = [
    'ADE20K_CLASSES',
    'ADE20K_PALETTE',
    'BRAIN_ATLAS_CLASSES',
    'BRAIN_ATLAS_PALETTE',
    'CITYSCAPES_CLASSES',
    'CITYSCAPES_PALETTE',
    'NAMED_PALETTES',
    'VOC_CLASSES',
    'VOC_PALETTE',
    'generate_palette',
    'voc_palette',
]
