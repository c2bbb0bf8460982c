"""Tests of BrainAtlasDataset on the committed data in data/brain_atlas."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.datasets.validation import DatasetNotFoundError
from segtools.registry import DATASETS

DATA_ROOT = Path(__file__).resolve().parents[2] / 'data' / 'brain_atlas'
META = json.loads((DATA_ROOT / 'classes.json').read_text())
NUM_CLASSES = len(BrainAtlasDataset.METAINFO['classes'])


def _build(split: str, **kwargs):
    cfg = dict(
        type='BrainAtlasDataset',
        data_root=str(DATA_ROOT),
        data_prefix=dict(img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
        **kwargs,
    )
    with DefaultScope.overwrite_default_scope('segtools'):
        return DATASETS.build(cfg)


def _read(path: str) -> np.ndarray:
    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert array is not None, f'cannot read {path}'
    return array


def test_metainfo_matches_converter_output():
    assert list(BrainAtlasDataset.METAINFO['classes']) == META['classes']
    assert [list(c) for c in BrainAtlasDataset.METAINFO['palette']] == META['palette']
    assert list(META['label_groups']) == META['classes'][1:]


@pytest.mark.parametrize('split', ['train', 'val'])
def test_split_lengths_sizes_and_labels(split):
    dataset = _build(split, pipeline=[])
    slices = META['split'][split]
    assert len(dataset) == len(slices) > 0
    assert dataset.metainfo['classes'] == BrainAtlasDataset.METAINFO['classes']
    assert dataset.reduce_zero_label is False

    present = np.zeros(NUM_CLASSES, dtype=bool)
    dark_under_labels = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        image, label = _read(info['img_path']), _read(info['seg_map_path'])
        assert Path(info['img_path']).name == Path(info['seg_map_path']).name
        assert image.ndim == label.ndim == 2 and image.shape == label.shape
        assert label.dtype == np.uint8 and int(label.max()) < NUM_CLASSES
        present |= np.bincount(label.ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES] > 0
        # Atlas labels are grey matter, inside the head: almost none may fall on the black
        # outside, which is what an up/down-flipped or shifted mask would do.
        dark_under_labels.append(np.mean(image[label > 0] < 20))
    # The block split was chosen so that both splits hold every class.
    assert present.all(), f'classes absent from {split}: {np.flatnonzero(~present).tolist()}'
    assert np.mean(dark_under_labels) < 0.01
    z = sorted(int(Path(dataset.get_data_info(i)['img_path']).stem.rsplit('_', 1)[1]) for i in range(len(dataset)))
    assert z == sorted(slices)


def test_val_is_one_block_apart_from_train():
    train, val = META['split']['train'], META['split']['val']
    assert val == list(range(val[0], val[-1] + 1))  # contiguous
    assert not set(range(val[0] - 1, val[-1] + 2)) & set(train)  # with a gap on each side


def test_pipeline_loads_colour_image():
    dataset = _build('val', pipeline=[dict(type='LoadImageFromFile')])
    results = dataset[0]
    label = _read(results['seg_map_path'])
    assert results['img'].shape == (*label.shape, 3)
    np.testing.assert_array_equal(results['img'][..., 0], results['img'][..., 2])  # gray replicated


def test_missing_folder_names_path_and_converter(tmp_path):
    cfg = dict(type='BrainAtlasDataset', data_root=str(tmp_path), data_prefix=dict(img_path='img_dir/train'))
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(DatasetNotFoundError) as info:
        DATASETS.build(cfg)
    assert str(tmp_path / 'img_dir' / 'train') in str(info.value)
    assert 'mricron_atlas.py' in str(info.value)


def test_palette_masks_load_as_the_original_ids_through_the_demo_pipeline(tmp_path):
    # Masks saved as palette ("P") PNGs, as Pascal VOC ships them: the dataset check and the
    # pipeline must both read the palette indices (OpenCV would expand them to colours).
    names = ['colin27_axial_040.png', 'colin27_axial_095.png', 'colin27_axial_120.png']
    palette = [v for colour in BrainAtlasDataset.METAINFO['palette'] for v in colour]
    palette += [255, 255, 255] * (256 - NUM_CLASSES)  # index 255 (ignore) white, as VOC's border
    originals = {}
    for name in names:
        image_src, mask_src = DATA_ROOT / 'img_dir' / 'train' / name, DATA_ROOT / 'ann_dir' / 'train' / name
        (tmp_path / 'img_dir' / 'train').mkdir(parents=True, exist_ok=True)
        (tmp_path / 'ann_dir' / 'train').mkdir(parents=True, exist_ok=True)
        (tmp_path / 'img_dir' / 'train' / name).write_bytes(image_src.read_bytes())
        ids = _read(str(mask_src)).copy()
        ids[:3, :3] = 255  # an ignored corner, like VOC's border
        assert len(np.unique(ids)) >= 3
        mask = Image.fromarray(ids, mode='P')
        mask.putpalette(palette)
        mask.save(tmp_path / 'ann_dir' / 'train' / name)
        with Image.open(tmp_path / 'ann_dir' / 'train' / name) as check:
            assert check.mode == 'P'
        originals[name] = ids
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    cfg = dict(
        type='BrainAtlasDataset',
        data_root=str(tmp_path),
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=pipeline,
    )
    with DefaultScope.overwrite_default_scope('segtools'):
        dataset = DATASETS.build(cfg)  # the up-front check decodes every entry (3 < 16 samples)
        assert len(dataset) == len(names)
        for i in range(len(dataset)):
            sample = dataset[i]['data_samples']
            name = Path(sample.img_path).name
            np.testing.assert_array_equal(sample.gt_sem_seg.data.numpy()[0], originals[name])
