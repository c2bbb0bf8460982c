"""Tests of tools/dataset_converters/coco21.py on a tiny instances json."""

import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import segtools.datasets  # noqa: F401  (registration)
from segtools.palettes import VOC_CLASSES
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('coco21')

# COCO category names by id (those used here) and the VOC name each must become.
COCO_NAMES = {1: 'person', 3: 'car', 5: 'airplane', 17: 'cat', 63: 'couch', 72: 'tv', 13: 'stop sign'}
VOC_NAME = {'person': 'person', 'car': 'car', 'airplane': 'aeroplane', 'cat': 'cat', 'couch': 'sofa',
            'tv': 'tvmonitor'}  # fmt: skip
H, W = 40, 50


def _voc_id(coco_id: int) -> int:
    name = COCO_NAMES[coco_id]
    return VOC_CLASSES.index(VOC_NAME[name]) if name in VOC_NAME else 0


def _encode_rle(mask: np.ndarray) -> str:
    """COCO compressed RLE of a 0/1 mask, written independently of the converter's decoder."""
    flat = mask.T.reshape(-1)
    runs, current, count = [], 0, 0
    for v in flat:
        if v == current:
            count += 1
        else:
            runs.append(count)
            current, count = v, 1
    runs.append(count)
    out = []
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            out.append(chr((c | (0x20 if more else 0)) + 48))
    return ''.join(out)


def _fixture(root: Path) -> None:
    (root / 'train2017').mkdir(parents=True)
    (root / 'annotations').mkdir()
    rle_mask = np.zeros((H, W), np.uint8)
    rle_mask[5:35, 20:45] = 1
    images, anns = [], []
    for image_id in (1, 2, 3):
        images.append(dict(id=image_id, file_name=f'{image_id:012d}.jpg', height=H, width=W))
        cv2.imwrite(str(root / 'train2017' / f'{image_id:012d}.jpg'), np.zeros((H, W, 3), np.uint8))
    # Image 1: a person polygon (0..29 x 0..39 = 1200 px), then an overlapping car RLE: first come wins.
    anns.append(dict(id=10, image_id=1, category_id=1, segmentation=[[0, 0, 29, 0, 29, 39, 0, 39]]))
    anns.append(dict(id=11, image_id=1, category_id=3, segmentation=dict(counts=_encode_rle(rle_mask), size=[H, W])))
    # Image 2: 500 px of airplane plus a non-VOC stop sign: at most 1000 labelled pixels -> dropped.
    anns.append(dict(id=12, image_id=2, category_id=5, segmentation=[[0, 0, 19, 0, 19, 24, 0, 24]]))
    anns.append(dict(id=13, image_id=2, category_id=13, segmentation=[[20, 0, 49, 0, 49, 39, 20, 39]]))
    # Image 3: uncompressed (crowd) RLE of a cat, everything.
    anns.append(dict(id=14, image_id=3, category_id=17, iscrowd=1, segmentation=dict(counts=[0, H * W], size=[H, W])))
    categories = [dict(id=k, name=v) for k, v in COCO_NAMES.items()]
    (root / 'annotations' / 'instances_train2017.json').write_text(
        json.dumps(dict(images=images, annotations=anns, categories=categories))
    )


def test_mapping_table():
    for voc_id, coco_id in enumerate(conv.VOC_TO_COCO[1:], 1):
        assert conv.COCO_TO_VOC[coco_id] == voc_id
    assert [VOC_CLASSES[conv.COCO_TO_VOC[c]] for c in (5, 63, 72, 64, 67, 4)] == [
        'aeroplane', 'sofa', 'tvmonitor', 'pottedplant', 'diningtable', 'motorbike']  # fmt: skip


def test_rasterise_filter_and_dataset(tmp_path):
    _fixture(tmp_path)
    conv.main([str(tmp_path)])
    out_dir = tmp_path / 'annotations21' / 'train2017'
    assert (tmp_path / 'annotations21' / 'train2017.txt').read_text().split() == ['000000000001', '000000000003']
    assert not (out_dir / '000000000002.png').exists()
    m1 = cv2.imread(str(out_dir / '000000000001.png'), -1)
    expected = np.zeros((H, W), np.uint8)
    car = np.zeros((H, W), bool)
    car[5:35, 20:45] = True
    expected[car] = _voc_id(3)
    expected[:, :30] = _voc_id(1)  # the person came first, so it keeps the overlap
    np.testing.assert_array_equal(m1, expected)
    np.testing.assert_array_equal(cv2.imread(str(out_dir / '000000000003.png'), -1), np.full((H, W), _voc_id(17)))
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='COCO21Dataset', data_root=str(tmp_path), ann_file='annotations21/train2017.txt',
                 data_prefix=dict(img_path='train2017', seg_map_path='annotations21/train2017'))
        )  # fmt: skip
    assert len(ds) == 2


def test_min_pixels_is_configurable(tmp_path):
    _fixture(tmp_path)
    conv.main([str(tmp_path), '--min-pixels', '100'])
    assert len((tmp_path / 'annotations21' / 'train2017.txt').read_text().split()) == 3


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='instances_'):
        conv.main([str(tmp_path)])
    _fixture(tmp_path)
    path = tmp_path / 'annotations' / 'instances_train2017.json'
    data = json.loads(path.read_text())
    data['annotations'][1]['segmentation']['size'] = [H + 1, W]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r'instances_train2017\.json: annotation 11 of image 1: RLE size'):
        conv.main([str(tmp_path)])
