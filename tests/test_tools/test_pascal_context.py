"""Tests of tools/dataset_converters/pascal_context.py on a tiny Detail-format json."""

import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import segtools.datasets  # noqa: F401  (registration)
from segtools.datasets.pascal_context import PASCAL_CONTEXT_CLASSES
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('pascal_context')

# Full (459-class, alphabetical) ids of a few classes: 2 aeroplane, 284 person, 458 wood; 1 accordion is not in 59.
H, W = 10, 12


def _fixture(root: Path, with_phase: bool = True) -> None:
    (root / 'JPEGImages').mkdir(parents=True)
    images = []
    for i, phase in enumerate(['train', 'val', 'train']):
        name = f'2008_00000{i}'
        cv2.imwrite(str(root / 'JPEGImages' / f'{name}.jpg'), np.zeros((H, W, 3), np.uint8))
        img = dict(image_id=2008000000 + i, file_name=f'{name}.jpg', height=H, width=W)
        if with_phase:
            img['phase'] = phase
        images.append(img)
    full = dict(counts=[0, H * W], size=[H, W])
    anns = [
        dict(image_id=2008000000, category_id=2, segmentation=full),  # aeroplane everywhere
        dict(image_id=2008000000, category_id=284, segmentation=[[0, 0, 5, 0, 5, 9, 0, 9]]),  # person on top (later)
        dict(image_id=2008000001, category_id=1, segmentation=full),  # accordion -> background
        dict(image_id=2008000002, category_id=458, segmentation=dict(counts=[60, 60], size=[H, W])),  # wood, right half
    ]
    (root / 'trainval_merged.json').write_text(json.dumps(dict(images=images, annos_segmentation=anns)))


def test_table():
    assert len(conv.CONTEXT59_IDS) == 59 and list(conv.CONTEXT59_IDS) == sorted(set(conv.CONTEXT59_IDS))
    lut = conv.context60_lut()
    assert PASCAL_CONTEXT_CLASSES[lut[2]] == 'aeroplane'
    assert PASCAL_CONTEXT_CLASSES[lut[284]] == 'person'
    assert PASCAL_CONTEXT_CLASSES[lut[458]] == 'wood'
    assert lut[1] == 0 and lut.max() == 59


@pytest.mark.parametrize('with_phase', [True, False])
def test_masks_splits_and_datasets(tmp_path, with_phase):
    _fixture(tmp_path, with_phase)
    if not with_phase:
        (tmp_path / 'ImageSets' / 'Main').mkdir(parents=True)
        (tmp_path / 'ImageSets' / 'Main' / 'train.txt').write_text('2008_000000\n2008_000002\n')
        (tmp_path / 'ImageSets' / 'Main' / 'val.txt').write_text('2008_000001\n')
    conv.main([str(tmp_path)])
    seg = tmp_path / 'SegmentationClassContext'
    m0 = cv2.imread(str(seg / '2008_000000.png'), -1)
    expected = np.full((H, W), PASCAL_CONTEXT_CLASSES.index('aeroplane'), np.uint8)
    expected[:, :6] = PASCAL_CONTEXT_CLASSES.index('person')
    np.testing.assert_array_equal(m0, expected)
    assert not cv2.imread(str(seg / '2008_000001.png'), -1).any()
    m2 = cv2.imread(str(seg / '2008_000002.png'), -1)
    assert (m2[:, :6] == 0).all() and (m2[:, 6:] == PASCAL_CONTEXT_CLASSES.index('wood')).all()
    lists = tmp_path / 'ImageSets' / 'SegmentationContext'
    assert (lists / 'train.txt').read_text().split() == ['2008_000000', '2008_000002']
    assert (lists / 'val.txt').read_text().split() == ['2008_000001']
    with DefaultScope.overwrite_default_scope('segtools'):
        for type_ in ('PascalContextDataset', 'PascalContextDataset59'):
            ds = DATASETS.build(
                dict(type=type_, data_root=str(tmp_path), ann_file='ImageSets/SegmentationContext/train.txt',
                     data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'))
            )  # fmt: skip
            assert len(ds) == 2


def test_errors_name_the_file(tmp_path):
    (tmp_path / 'JPEGImages').mkdir()
    with pytest.raises(FileNotFoundError, match='trainval_merged.json'):
        conv.main([str(tmp_path)])
    (tmp_path / 'trainval_merged.json').write_text('{"images": []}')
    with pytest.raises(ValueError, match=r'trainval_merged\.json: missing list "annos_segmentation"'):
        conv.main([str(tmp_path)])
