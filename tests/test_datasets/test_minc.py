"""MINCDataset: 23 material classes, labels/train1.txt split lists."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.minc import MINC_CLASSES, MINCDataset
from segtools.datasets.validation import DatasetNotFoundError
from segtools.registry import DATASETS


def write_minc(root, per_class):
    for cls, ids in per_class.items():
        (root / 'images' / cls).mkdir(parents=True, exist_ok=True)
        for i in ids:
            cv2.imwrite(str(root / 'images' / cls / f'{cls}_{i:06d}.jpg'), np.zeros((4, 4, 3), np.uint8))


def test_minc_split(tmp_path):
    write_minc(tmp_path, {'brick': [1, 2], 'wood': [3], 'sky': [4]})
    (tmp_path / 'labels').mkdir()
    (tmp_path / 'labels/train1.txt').write_text(
        'images/brick/brick_000001.jpg\nimages/wood/wood_000003.jpg\nimages/sky/sky_000004.jpg\n'
    )
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='MINCDataset', data_root=str(tmp_path)))
    assert isinstance(ds, MINCDataset) and len(ds) == 3
    assert len(ds.metainfo['classes']) == 23 == len(set(MINC_CLASSES))
    assert list(MINC_CLASSES) == sorted(MINC_CLASSES)
    labels = [ds.get_data_info(i)['gt_label'] for i in range(3)]
    assert labels == [MINC_CLASSES.index('brick'), MINC_CLASSES.index('wood'), MINC_CLASSES.index('sky')]


def test_minc_missing_split(tmp_path):
    write_minc(tmp_path, {'brick': [1]})
    with pytest.raises(DatasetNotFoundError) as info:
        MINCDataset(data_root=str(tmp_path))
    msg = str(info.value)
    assert str(tmp_path / 'labels/train1.txt') in msg and 'tools/dataset_converters/minc.py' in msg
