"""BrainAtlasPatchDataset: grid centres over the bundled slices, labelled with the atlas class there."""

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from segtools.datasets import BrainAtlasPatchDataset, DatasetError, DatasetNotFoundError
from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.datasets.validation import read_mask
from segtools.registry import DATASETS

ROOT = Path(__file__).resolve().parents[2] / 'data' / 'brain_atlas'
VAL = dict(img_path='img_dir/val', seg_map_path='ann_dir/val')


def _build(**kwargs) -> BrainAtlasPatchDataset:
    with DefaultScope.overwrite_default_scope('segtools'):
        return DATASETS.build(dict(type='BrainAtlasPatchDataset', data_root=str(ROOT), **kwargs))


def test_every_entry_is_labelled_with_the_atlas_class_at_its_centre():
    dataset = _build(data_prefix=VAL, stride=16)
    atlas = BrainAtlasDataset.METAINFO['classes']
    classes = dataset.metainfo['classes']
    assert classes == atlas[1:] and len(dataset) > 100
    masks = {}
    for index in range(0, len(dataset), 37):
        info = dataset.get_data_info(index)
        name = Path(info['img_path']).name
        mask = masks.setdefault(name, read_mask(str(ROOT / 'ann_dir' / 'val' / name)))
        y, x = info['crop_center']
        assert y % 16 == 8 and x % 16 == 8  # on the grid, 8 pixels in from the border
        assert classes[info['gt_label']] == atlas[mask[y, x]] != 'background'


def test_train_and_val_slices_never_mix_and_a_class_subset_relabels():
    train, val = _build(stride=16), _build(data_prefix=VAL, stride=16)

    def slices(dataset):
        return {Path(dataset.get_data_info(i)['img_path']).name for i in range(len(dataset))}

    assert slices(train) and slices(val) and not slices(train) & slices(val)
    subset = _build(data_prefix=VAL, stride=16, metainfo=dict(classes=('temporal', 'frontal')))
    assert {subset.get_data_info(i)['gt_label'] for i in range(len(subset))} == {0, 1}
    assert len(subset) < len(val)


def test_patches_through_the_pipeline():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='CropAroundCenter', crop_size=32)]
    sample = _build(data_prefix=VAL, stride=16, pipeline=pipeline)[0]
    assert sample['img'].shape == (32, 32, 3) and sample['img_shape'] == (32, 32)
    assert isinstance(sample['gt_label'], int)


def test_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(DatasetError, match="'cortex'"):
        _build(metainfo=dict(classes=('cortex',)))
    with pytest.raises(DatasetNotFoundError, match='does not exist'):
        _build(data_prefix=dict(img_path=str(tmp_path / 'a'), seg_map_path=str(tmp_path / 'b')))
    with pytest.raises(DatasetError, match='stride'):
        _build(stride=0)
