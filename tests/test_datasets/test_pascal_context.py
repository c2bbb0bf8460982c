"""PascalContextDataset (60 classes) on fixture masks: background 0 is a class."""

import cv2
import numpy as np
from mmengine.registry import DefaultScope

from segtools.datasets.pascal_context import PascalContextDataset
from segtools.datasets.validation import map_labels, read_mask
from segtools.registry import DATASETS

PREFIX = dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext')
RAW = np.array([[0, 1, 59], [30, 0, 2]], np.uint8)


def write_context(root):
    for folder in PREFIX.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in ('2008_000002', '2008_000003'):
        cv2.imwrite(str(root / 'JPEGImages' / f'{name}.jpg'), np.zeros((2, 3, 3), np.uint8))
        cv2.imwrite(str(root / 'SegmentationClassContext' / f'{name}.png'), RAW)
    split = root / 'ImageSets/SegmentationContext/train.txt'
    split.parent.mkdir(parents=True)
    split.write_text('2008_000002\n2008_000003\n')


def test_pascal_context60_keeps_background(tmp_path):
    write_context(tmp_path)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(
                type='PascalContextDataset',
                data_root=str(tmp_path),
                data_prefix=PREFIX,
                ann_file='ImageSets/SegmentationContext/train.txt',
            )
        )
    assert isinstance(ds, PascalContextDataset) and len(ds) == 2
    assert len(ds.metainfo['classes']) == 60 and ds.metainfo['classes'][0] == 'background'
    info = ds.get_data_info(1)
    labels = map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])
    assert np.array_equal(labels, RAW)
