"""Remote-sensing datasets of MMSegmentation's configs: LoveDA, Potsdam, Vaihingen (ISPRS), iSAID."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets import DatasetError, ISPRSDataset, LoveDADataset, PotsdamDataset, iSAIDDataset
from segtools.datasets.validation import map_labels, read_mask
from segtools.registry import DATASETS

PREFIX = dict(img_path='img_dir/train', seg_map_path='ann_dir/train')
# Class, class count, mask suffix, whether 0 in a mask means "no label".
CASES = [
    (LoveDADataset, 7, '.png', True),
    (PotsdamDataset, 6, '.png', True),
    (ISPRSDataset, 6, '.png', True),
    (iSAIDDataset, 16, '_instance_color_RGB.png', False),
]


def _write(root, stem, mask, seg_suffix):
    for folder in PREFIX.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / PREFIX['img_path'] / f'{stem}.png'), np.zeros((*mask.shape, 3), np.uint8))
    cv2.imwrite(str(root / PREFIX['seg_map_path'] / f'{stem}{seg_suffix}'), mask)


def _build(cls, root):
    with DefaultScope.overwrite_default_scope('segtools'):
        return DATASETS.build(dict(type=cls.__name__, data_root=str(root), data_prefix=PREFIX))


@pytest.mark.parametrize(('cls', 'num_classes', 'seg_suffix', 'zero_is_unlabelled'), CASES)
def test_labels_map_to_the_classes(tmp_path, cls, num_classes, seg_suffix, zero_is_unlabelled):
    top = num_classes if zero_is_unlabelled else num_classes - 1  # the largest id a mask may hold
    mask = np.array([[0, 1, top], [2, 0, 255]], np.uint8)
    _write(tmp_path, 'tile_0', mask, seg_suffix)
    dataset = _build(cls, tmp_path)
    assert type(dataset) is cls and len(dataset) == 1 and len(dataset.metainfo['classes']) == num_classes
    assert len(dataset.metainfo['palette']) == num_classes
    info = dataset.get_data_info(0)
    labels = map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])
    if zero_is_unlabelled:
        expected = np.array([[255, 0, num_classes - 1], [1, 255, 255]])
    else:
        expected = mask.astype(np.int64)
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize(('cls', 'num_classes', 'seg_suffix', 'zero_is_unlabelled'), CASES)
def test_an_id_beyond_the_classes_is_refused(tmp_path, cls, num_classes, seg_suffix, zero_is_unlabelled):
    too_large = num_classes + 1 if zero_is_unlabelled else num_classes
    _write(tmp_path, 'tile_0', np.array([[1, too_large]], np.uint8), seg_suffix)
    with pytest.raises(DatasetError, match=rf'values \[{too_large}\]'):
        _build(cls, tmp_path)
