"""PascalVOCDataset on a fixture VOC tree: split lists, palette PNG masks, the 255 border kept."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from segtools.datasets.validation import DatasetError, DatasetNotFoundError, map_labels, read_mask
from segtools.datasets.voc import PascalVOCDataset
from segtools.palettes import voc_palette
from segtools.registry import DATASETS


def write_voc(root, masks, seg_dir='SegmentationClass'):
    (root / 'JPEGImages').mkdir(parents=True, exist_ok=True)
    (root / seg_dir).mkdir(parents=True, exist_ok=True)
    for name, mask in masks.items():
        cv2.imwrite(str(root / 'JPEGImages' / f'{name}.jpg'), np.zeros((*mask.shape, 3), np.uint8))
        png = Image.fromarray(mask, mode='P')
        png.putpalette([v for colour in voc_palette(256) for v in colour])
        png.save(root / seg_dir / f'{name}.png')


def write_split(root, name, names):
    path = root / 'ImageSets/Segmentation' / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(names) + '\n')


def build_voc(root, split: str, pipeline: list | None = None) -> PascalVOCDataset:
    """``PascalVOCDataset`` over ``root`` laid out as VOC2012, listing ``ImageSets/Segmentation/<split>``."""
    return DATASETS.build(
        dict(
            type='PascalVOCDataset',
            data_root=str(root),
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
            ann_file=f'ImageSets/Segmentation/{split}',
            pipeline=pipeline or [],
        )
    )


def test_voc_split_and_border(tmp_path):
    border = np.array([[0, 0, 255], [15, 15, 255], [20, 1, 255]], np.uint8)
    write_voc(tmp_path, {'2007_000032': border, '2007_000033': np.zeros((3, 3), np.uint8), '2007_000039': border})
    write_split(tmp_path, 'train.txt', ['2007_000032', '2007_000039'])
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = build_voc(tmp_path, 'train.txt')
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 21
    assert ds.metainfo['palette'] == voc_palette(21)
    info = ds.get_data_info(0)
    labels = map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])
    assert np.array_equal(labels, border)  # indices, not palette colours; 255 stays the border


def test_voc_aug_via_ann_file(tmp_path):
    write_voc(tmp_path, {'2008_000002': np.full((4, 5), 7, np.uint8)}, seg_dir='SegmentationClassAug')
    write_split(tmp_path, 'aug.txt', ['2008_000002'])
    ds = PascalVOCDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/aug.txt',
    )
    assert len(ds) == 1 and ds.get_data_info(0)['seg_map_path'].endswith('SegmentationClassAug/2008_000002.png')


def test_voc_needs_ann_file(tmp_path):
    with pytest.raises(DatasetError, match='ann_file'):
        PascalVOCDataset(data_root=str(tmp_path))


def test_voc_missing_split_file(tmp_path):
    write_voc(tmp_path, {'a': np.zeros((2, 2), np.uint8)})
    with pytest.raises(DatasetNotFoundError) as info:
        PascalVOCDataset(
            data_root=str(tmp_path),
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
            ann_file='ImageSets/Segmentation/aug.txt',
        )
    msg = str(info.value)
    assert str(tmp_path / 'ImageSets/Segmentation/aug.txt') in msg and 'voc_aug.py' in msg


def test_voc_palette_masks_load_as_indices_through_the_pipeline(tmp_path):
    # SegmentationClass masks are palette PNGs: the pipeline must give the indices (255 border
    # kept), exactly as the dataset check reads them, not OpenCV's expanded colours.
    border = np.array([[0, 0, 255], [15, 15, 255], [20, 1, 255]], np.uint8)
    write_voc(tmp_path, {'2007_000032': border, '2007_000033': border[::-1].copy()})
    write_split(tmp_path, 'val.txt', ['2007_000032', '2007_000033'])
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = build_voc(tmp_path, 'val.txt', pipeline)
        for i, expected in enumerate((border, border[::-1])):
            gt = ds[i]['data_samples'].gt_sem_seg.data.numpy()[0]
            np.testing.assert_array_equal(gt, expected)
