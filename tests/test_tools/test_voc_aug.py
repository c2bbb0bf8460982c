"""Tests of tools/dataset_converters/voc_aug.py on tiny fixture archives.

SBD ``.mat`` files need scipy; without it the ``.mat`` reader is replaced by a
lookup of the arrays the test would have saved, and the real-``.mat`` test skips.
"""

import importlib
import io
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

import segtools.datasets  # noqa: F401  (registration)
from segtools.registry import DATASETS

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('voc_aug')

VOC_TRAIN, VOC_VAL = ['2007_000032', '2007_000039'], ['2007_000033']
SBD_TRAIN, SBD_VAL = ['2008_000002', '2007_000032'], ['2007_000033', '2008_000003']
H, W = 6, 7


def _mask(name: str) -> np.ndarray:
    value = int(name[-2:]) % 21  # a label derived from the name, so every file is distinct
    mask = np.full((H, W), value, np.uint8)
    mask[0, :] = 0
    return mask


def _add(tf, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _palette_png(mask: np.ndarray) -> bytes:
    img = Image.fromarray(mask, mode='P')
    img.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return buf.getvalue()


def _mat_bytes(mask: np.ndarray) -> bytes:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {'GTcls': {'Segmentation': mask, 'Boundaries': np.zeros(1), 'CategoriesPresent': np.zeros(1)}})
    return buf.getvalue()


def _make_archives(tmp_path: Path, real_mat: bool) -> tuple[Path, Path]:
    jpg = cv2.imencode('.jpg', np.zeros((H, W, 3), np.uint8))[1].tobytes()
    voc = tmp_path / 'voc.tar'
    with tarfile.open(voc, 'w') as tf:
        prefix = 'VOCdevkit/VOC2012/'
        for name in sorted(set(VOC_TRAIN + VOC_VAL + SBD_TRAIN + SBD_VAL)):
            _add(tf, f'{prefix}JPEGImages/{name}.jpg', jpg)
        for name in VOC_TRAIN + VOC_VAL:
            mask = _mask(name)
            mask[-1, :] = 255  # VOC border
            _add(tf, f'{prefix}SegmentationClass/{name}.png', _palette_png(mask))
        _add(tf, f'{prefix}ImageSets/Segmentation/train.txt', '\n'.join(VOC_TRAIN).encode())
        _add(tf, f'{prefix}ImageSets/Segmentation/val.txt', '\n'.join(VOC_VAL).encode())
    sbd = tmp_path / 'sbd.tgz'
    with tarfile.open(sbd, 'w:gz') as tf:
        for name in SBD_TRAIN + SBD_VAL:
            _add(
                tf, f'benchmark_RELEASE/dataset/cls/{name}.mat', _mat_bytes(_mask(name)) if real_mat else name.encode()
            )
        _add(tf, 'benchmark_RELEASE/dataset/train.txt', '\n'.join(SBD_TRAIN).encode())
        _add(tf, 'benchmark_RELEASE/dataset/val.txt', '\n'.join(SBD_VAL).encode())
        _add(tf, 'benchmark_RELEASE/dataset/img/2008_000002.jpg', jpg)  # not needed, not extracted
    return voc, sbd


def _check_output(out: Path) -> None:
    aug = (out / 'ImageSets' / 'Segmentation' / 'aug.txt').read_text().split()
    assert aug == sorted((set(SBD_TRAIN) | set(SBD_VAL) | set(VOC_TRAIN)) - set(VOC_VAL))
    for name in aug:
        got = cv2.imread(str(out / 'SegmentationClassAug' / f'{name}.png'), -1)
        expected = _mask(name)
        if name in VOC_TRAIN:  # VOC's own annotation wins, border included
            expected[-1, :] = 255
        np.testing.assert_array_equal(got, expected)
    assert not list(out.glob('.sbd-*'))
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='PascalVOCDataset', data_root=str(out), ann_file='ImageSets/Segmentation/aug.txt',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'))
        )  # fmt: skip
    assert len(ds) == len(aug)


def test_aug_without_scipy(tmp_path, monkeypatch):
    monkeypatch.setattr(conv, 'read_sbd_mask', lambda path: _mask(Path(path).stem))
    voc, sbd = _make_archives(tmp_path, real_mat=False)
    out = tmp_path / 'VOC2012'
    conv.main(['--voc', str(voc), '--sbd', str(sbd), '--out', str(out)])
    _check_output(out)


def test_aug_with_real_mat(tmp_path):
    pytest.importorskip('scipy')
    voc, sbd = _make_archives(tmp_path, real_mat=True)
    out = tmp_path / 'VOC2012'
    conv.main(['--voc', str(voc), '--sbd', str(sbd), '--out', str(out)])
    _check_output(out)


def test_missing_scipy_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'scipy.io', None)  # makes the import fail even where scipy is installed
    with pytest.raises(ImportError, match=r'x\.mat .*pip install scipy'):
        conv.read_sbd_mask(tmp_path / 'x.mat')


def test_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(conv, 'read_sbd_mask', lambda path: _mask(Path(path).stem))
    voc, sbd = _make_archives(tmp_path, real_mat=False)
    official = tmp_path / conv.VOC_ARCHIVE
    voc.rename(official)
    with pytest.raises(ValueError, match=rf'{conv.VOC_ARCHIVE}: sha1 .* expected {conv.KNOWN_SHA1[conv.VOC_ARCHIVE]}'):
        conv.main(['--voc', str(official), '--sbd', str(sbd), '--out', str(tmp_path / 'o')])
    with pytest.raises(FileNotFoundError, match='nope.tgz'):
        conv.main(
            ['--voc', str(official), '--sbd', str(tmp_path / 'nope.tgz'), '--out', str(tmp_path / 'o'), '--skip-sha1']
        )
