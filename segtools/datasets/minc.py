"""MINC-2500 material recognition, 23 classes."""

from segtools.datasets.image_folder import ImageFolderDataset
from segtools.registry import DATASETS

MINC_CLASSES = (
    'brick', 'carpet', 'ceramic', 'fabric', 'foliage', 'food', 'glass', 'hair', 'leather', 'metal', 'mirror',
    'other', 'painted', 'paper', 'plastic', 'polishedstone', 'skin', 'sky', 'stone', 'tile', 'wallpaper',
    'water', 'wood',
)  # fmt: skip


@DATASETS.register_module()
class MINCDataset(ImageFolderDataset):
    """MINC-2500 (Bell et al., "Material Recognition in the Wild", CVPR 2015), 23 material classes.

    Splits are the official list files, ``labels/{train,validate,test}<k>.txt`` for
    folds k = 1..5, whose lines are ``images/<class>/<class>_<id>.jpg`` relative to the
    dataset root; the label is the class folder's index in the official (alphabetical)
    category list.

    Args:
        ann_file: Split list, e.g. ``'labels/train1.txt'`` (required).
        **kwargs: Forwarded to :class:`ImageFolderDataset`.
    """

    METAINFO = dict(classes=MINC_CLASSES)
    LAYOUT = """\
<data_root>/  (minc-2500)
    images/<class>/<class>_<id>.jpg
    labels/{train,validate,test}{1..5}.txt   (lines: images/<class>/<class>_<id>.jpg)
data_prefix=dict(img_path=''), ann_file='labels/train1.txt'"""
    CONVERTER = 'minc'

    def __init__(self, ann_file: str = 'labels/train1.txt', **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)
