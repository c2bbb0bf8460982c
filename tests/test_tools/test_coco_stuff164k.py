"""Tests of tools/dataset_converters/coco_stuff164k.py on a tiny fixture tree."""

import importlib
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import segtools.datasets  # noqa: F401  (registration)
from segtools.datasets.coco_stuff import COCO_STUFF_CLASSES
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('coco_stuff164k')

UNUSED_COCO_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91)  # 1-based COCO ids without annotations


def _expected(value: int) -> int:
    """Compacted id of a 0-based map value: minus the unused ids below it; 255 stays."""
    if value == 255:
        return 255
    return value - sum(1 for u in UNUSED_COCO_IDS if u - 1 < value)


def _write(root: Path, split: str, stem: str, mask: np.ndarray) -> None:
    (root / 'images' / split).mkdir(parents=True, exist_ok=True)
    (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'images' / split / f'{stem}.jpg'), np.zeros((*mask.shape, 3), np.uint8))
    cv2.imwrite(str(root / 'annotations' / split / f'{stem}.png'), mask)


def test_mapping_and_dataset(tmp_path):
    used = [v for v in range(182) if v + 1 not in UNUSED_COCO_IDS]
    assert len(used) == 171
    mask = np.array(used + [255] * 5, np.uint8).reshape(8, 22)
    _write(tmp_path, 'train2017', '000000000009', mask)
    _write(tmp_path, 'val2017', '000000000139', mask[:, ::-1].copy())
    conv.main([str(tmp_path)])
    out = cv2.imread(str(tmp_path / 'annotations' / 'train2017' / '000000000009_labelTrainIds.png'), -1)
    np.testing.assert_array_equal(out, np.vectorize(_expected)(mask))
    assert out[out != 255].max() == 170
    # Named spot checks: the first stuff class and a thing after a gap.
    assert COCO_STUFF_CLASSES[_expected(91)] == 'banner'  # map value 91 = COCO id 92, the first stuff id
    assert COCO_STUFF_CLASSES[_expected(12)] == 'stop sign'  # COCO id 13
    assert (tmp_path / 'val2017.txt').read_text().split() == ['000000000139']
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='COCOStuffDataset', data_root=str(tmp_path),
                 data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'))
        )  # fmt: skip
    assert len(ds) == 1


def test_unused_id_is_an_error(tmp_path):
    _write(tmp_path, 'train2017', '1', np.full((3, 3), 11, np.uint8))
    with pytest.raises(ValueError, match=r'1\.png: unexpected label values \[11\]; expected values in 0\.\.10, 12'):
        conv.main([str(tmp_path)])


def test_maps_zip_sha1_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotations'):
        conv.main([str(tmp_path)])
    maps = tmp_path / 'maps.zip'
    with zipfile.ZipFile(maps, 'w') as zf:
        zf.writestr('train2017/5.png', cv2.imencode('.png', np.zeros((2, 2), np.uint8))[1].tobytes())
    with pytest.raises(ValueError, match=r'maps\.zip: sha1'):
        conv.main([str(tmp_path), '--maps-zip', str(maps), '--sha1', 'f' * 40])
    (tmp_path / 'images' / 'train2017').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'images' / 'train2017' / '5.jpg'), np.zeros((2, 2, 3), np.uint8))
    conv.main([str(tmp_path), '--maps-zip', str(maps)])
    assert (tmp_path / 'annotations' / 'train2017' / '5_labelTrainIds.png').is_file()
