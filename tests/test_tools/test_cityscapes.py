"""Tests of tools/dataset_converters/cityscapes.py on a tiny fixture tree."""

import importlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import segtools.datasets  # noqa: F401  (registration)
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('cityscapes')

# Chosen ids with their trainIds, spelled out from the official cityscapesScripts table.
EXPECTED = {0: 255, 1: 255, 6: 255, 7: 0, 8: 1, 9: 255, 11: 2, 17: 5, 18: 255, 23: 10, 24: 11, 26: 13, 29: 255,
            30: 255, 31: 16, 33: 18}  # fmt: skip


def _make_tree(root: Path) -> dict[str, np.ndarray]:
    ids = np.array(sorted(EXPECTED), np.uint8)
    labels = {}
    for split, city, stem in [('train', 'aachen', 'aachen_000000_000019'), ('train', 'bonn', 'bonn_000001_000019'),
                              ('val', 'lindau', 'lindau_000000_000019')]:  # fmt: skip
        label = np.resize(ids, (4, 8))
        (root / 'gtFine' / split / city).mkdir(parents=True, exist_ok=True)
        (root / 'leftImg8bit' / split / city).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'gtFine' / split / city / f'{stem}_gtFine_labelIds.png'), label)
        cv2.imwrite(str(root / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png'), np.zeros((4, 8, 3), np.uint8))
        labels[f'{split}/{city}/{stem}'] = label
    return labels


@pytest.mark.parametrize('nproc', [1, 2])
def test_train_ids_lists_and_dataset(tmp_path, nproc):
    labels = _make_tree(tmp_path)
    conv.main([str(tmp_path), '--nproc', str(nproc)])
    for key, label in labels.items():
        split, city, stem = key.split('/')
        out = cv2.imread(str(tmp_path / 'gtFine' / split / city / f'{stem}_gtFine_labelTrainIds.png'), -1)
        expected = np.vectorize(EXPECTED.get)(label)
        np.testing.assert_array_equal(out, expected)
    assert (tmp_path / 'train.txt').read_text().split() == ['aachen/aachen_000000_000019', 'bonn/bonn_000001_000019']
    assert (tmp_path / 'val.txt').read_text().split() == ['lindau/lindau_000000_000019']
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='CityscapesDataset', data_root=str(tmp_path),
                 data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
        )  # fmt: skip
    assert len(ds) == 2


def test_full_table():
    lut = conv.train_id_lut()
    assert sorted(lut[lut != 255].tolist()) == list(range(19))
    assert lut[[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]].tolist() == list(range(19))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='gtFine'):
        conv.main([str(tmp_path)])
    _make_tree(tmp_path)
    bad = tmp_path / 'gtFine' / 'val' / 'lindau' / 'lindau_000000_000019_gtFine_labelIds.png'
    cv2.imwrite(str(bad), np.full((4, 8), 40, np.uint8))
    with pytest.raises(ValueError, match=r'lindau_000000_000019_gtFine_labelIds\.png: unexpected label values \[40\]'):
        conv.main([str(tmp_path)])
    (tmp_path / 'leftImg8bit' / 'train' / 'bonn' / 'bonn_000001_000019_leftImg8bit.png').unlink()
    with pytest.raises(FileNotFoundError, match='bonn_000001_000019_leftImg8bit.png not found'):
        conv.main([str(tmp_path)])
