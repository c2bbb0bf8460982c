"""Tests of tools/dataset_converters/minc.py on a tiny fixture tar."""

import importlib
import io
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import segtools.datasets  # noqa: F401  (registration)
from segtools.datasets.minc import MINC_CLASSES
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('minc')


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _make_tar(path: Path, classes=MINC_CLASSES, listed=None) -> Path:
    jpg = cv2.imencode('.jpg', np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    with tarfile.open(path, 'w:gz') as tf:
        for cls in classes:
            _add(tf, f'minc-2500/images/{cls}/{cls}_000001.jpg', jpg)
        lines = listed or [f'images/{c}/{c}_000001.jpg' for c in ('brick', 'wood')]
        _add(tf, 'minc-2500/labels/train1.txt', ''.join(f'{line}\n' for line in lines).encode())
        _add(tf, 'minc-2500/labels/test1.txt', b'images/sky/sky_000001.jpg\n')
    return path


def test_classes_match_dataset():
    assert conv.MINC_CLASSES == MINC_CLASSES


def test_extract_and_load(tmp_path):
    archive = _make_tar(tmp_path / 'fixture.tar.gz')
    out = tmp_path / 'minc-2500'
    conv.main([str(archive), '--out', str(out)])
    assert (out / 'images' / 'wood' / 'wood_000001.jpg').is_file()
    conv.main([str(out), '--check-only'])
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='MINCDataset', data_root=str(out), ann_file='labels/train1.txt'))
    assert len(ds) == 2
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [
        MINC_CLASSES.index('brick'),
        MINC_CLASSES.index('wood'),
    ]


def test_errors(tmp_path):
    archive = _make_tar(tmp_path / conv.ARCHIVE)
    with pytest.raises(ValueError, match=r'minc-2500\.tar\.gz: sha1'):
        conv.main([str(archive), '--out', str(tmp_path / 'o')])
    missing_class = _make_tar(tmp_path / 'a.tgz', classes=MINC_CLASSES[1:])
    with pytest.raises(FileNotFoundError, match=r"\['brick'\] are missing"):
        conv.main([str(missing_class), '--out', str(tmp_path / 'o')])
    bad_line = _make_tar(tmp_path / 'b.tgz', listed=['images/wood/wood_000009.jpg'])
    with pytest.raises(FileNotFoundError, match=r'wood_000009\.jpg not found; it is listed in .*train1\.txt:1'):
        conv.main([str(bad_line), '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()
