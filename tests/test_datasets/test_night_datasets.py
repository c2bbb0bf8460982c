"""NightDrivingDataset and DarkZurichDataset: Cityscapes classes, their own file names, clear errors."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets import DarkZurichDataset, DatasetNotFoundError, NightDrivingDataset
from segtools.palettes import CITYSCAPES_CLASSES
from segtools.registry import DATASETS

CASES = {
    'NightDrivingDataset': (
        NightDrivingDataset,
        dict(img_path='leftImg8bit/test/night', seg_map_path='gtCoarse_daytime_trainvaltest/test/night'),
        '_leftImg8bit.png',
        '_gtCoarse_labelTrainIds.png',
    ),
    'DarkZurichDataset': (
        DarkZurichDataset,
        dict(img_path='rgb_anon/val/night/GOPR0356', seg_map_path='gt/val/night/GOPR0356'),
        '_rgb_anon.png',
        '_gt_labelTrainIds.png',
    ),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_reads_its_layout_with_cityscapes_classes(tmp_path, name):
    cls, prefix, img_suffix, seg_suffix = CASES[name]
    ids = np.array([[0, 18, 255], [13, 7, 0]], np.uint8)
    for stem in ('a_000001', 'b_000002'):
        (tmp_path / prefix['img_path']).mkdir(parents=True, exist_ok=True)
        (tmp_path / prefix['seg_map_path']).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / prefix['img_path'] / f'{stem}{img_suffix}'), np.zeros((2, 3, 3), np.uint8))
        cv2.imwrite(str(tmp_path / prefix['seg_map_path'] / f'{stem}{seg_suffix}'), ids)
        # Files of another kind next to them are not picked up.
        cv2.imwrite(str(tmp_path / prefix['seg_map_path'] / f'{stem}_labelIds.png'), np.full((2, 3), 26, np.uint8))
    with DefaultScope.overwrite_default_scope('segtools'):
        dataset = DATASETS.build(dict(type=name, data_root=str(tmp_path), data_prefix=prefix))
    assert isinstance(dataset, cls) and len(dataset) == 2
    assert dataset.metainfo['classes'] == CITYSCAPES_CLASSES
    assert dataset.get_data_info(0)['seg_map_path'].endswith(f'a_000001{seg_suffix}')


@pytest.mark.parametrize('name', sorted(CASES))
def test_missing_folder_names_the_layout(tmp_path, name):
    _, prefix, _, _ = CASES[name]
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(DatasetNotFoundError) as error:
        DATASETS.build(dict(type=name, data_root=str(tmp_path), data_prefix=prefix))
    assert 'Expected layout' in str(error.value) and prefix['seg_map_path'] in str(error.value)
