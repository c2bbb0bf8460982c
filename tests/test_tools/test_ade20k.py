"""Tests of tools/dataset_converters/ade20k.py (and the shared _common helpers) on a tiny fixture zip."""

import importlib
import sys
import zipfile
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
conv = importlib.import_module('ade20k')
common = importlib.import_module('_common')


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode('.png', array)[1].tobytes()


def _jpg(h: int, w: int) -> bytes:
    return cv2.imencode('.jpg', np.full((h, w, 3), 100, np.uint8))[1].tobytes()


def _make_zip(path: Path, masks: dict[str, np.ndarray], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('ADEChallengeData2016/objectInfo150.txt', 'Idx Ratio Train Val Name\n')
        for name, mask in masks.items():
            split = 'training' if 'train' in name else 'validation'
            zf.writestr(f'ADEChallengeData2016/images/{split}/{name}.jpg', _jpg(*mask.shape))
            zf.writestr(f'ADEChallengeData2016/annotations/{split}/{name}.png', _png(mask))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _masks() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        'ADE_train_00000001': rng.integers(0, 151, (6, 8), dtype=np.uint8),
        'ADE_train_00000002': rng.integers(0, 151, (5, 7), dtype=np.uint8),
        'ADE_val_00000001': rng.integers(0, 151, (6, 6), dtype=np.uint8),
    }


def test_extracts_layout_and_loads(tmp_path):
    masks = _masks()
    archive = _make_zip(tmp_path / 'fixture.zip', masks)
    out = tmp_path / 'ade'
    conv.main([str(archive), '--out', str(out), '--sha1', common.sha1sum(archive)])
    assert (out / 'objectInfo150.txt').is_file()
    for name, mask in masks.items():
        split = 'training' if 'train' in name else 'validation'
        assert (out / 'images' / split / f'{name}.jpg').is_file()
        np.testing.assert_array_equal(cv2.imread(str(out / 'annotations' / split / f'{name}.png'), 0), mask)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(
                type='ADE20KDataset',
                data_root=str(out),
                data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            )
        )
    assert len(ds) == 2
    assert not list(tmp_path.glob('.ade-*'))  # the temporary folder was renamed away


def test_known_sha1_is_checked_for_official_name(tmp_path):
    archive = _make_zip(tmp_path / conv.ARCHIVE, _masks())
    with pytest.raises(ValueError, match=rf'{conv.ARCHIVE}.*expected {conv.KNOWN_SHA1[conv.ARCHIVE]}'):
        conv.main([str(archive), '--out', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()
    conv.main([str(archive), '--out', str(tmp_path / 'out'), '--skip-sha1'])
    assert (tmp_path / 'out' / 'images' / 'training').is_dir()


def test_bad_sha1_and_missing_archive(tmp_path):
    archive = _make_zip(tmp_path / 'a.zip', _masks())
    with pytest.raises(ValueError, match=r'a\.zip: sha1 is [0-9a-f]{40}, expected 0{40}'):
        conv.main([str(archive), '--out', str(tmp_path / 'o'), '--sha1', '0' * 40])
    with pytest.raises(FileNotFoundError, match='missing.zip'):
        conv.main([str(tmp_path / 'missing.zip'), '--out', str(tmp_path / 'o')])


def test_missing_mask_names_split(tmp_path):
    masks = _masks()
    archive = tmp_path / 'a.zip'
    with zipfile.ZipFile(archive, 'w') as zf:
        zf.writestr('ADEChallengeData2016/images/training/x.jpg', _jpg(4, 4))
        zf.writestr('ADEChallengeData2016/images/validation/y.jpg', _jpg(4, 4))
        zf.writestr('ADEChallengeData2016/annotations/validation/y.png', _png(masks['ADE_val_00000001']))
    with pytest.raises(FileNotFoundError, match=r'a\.zip: 1 training images have no .*annotations/training'):
        conv.main([str(archive), '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


@pytest.mark.parametrize('member', ['../evil.txt', '/abs/evil.txt', 'ADEChallengeData2016/../../evil.txt'])
def test_path_traversal_is_refused(tmp_path, member):
    archive = _make_zip(tmp_path / 'a.zip', _masks(), extra={member: b'x'})
    with pytest.raises(ValueError, match='refusing|outside'):
        common.extract_archive(archive, tmp_path / 'dest')
    assert not (tmp_path / 'evil.txt').exists()


def test_tar_symlink_is_refused(tmp_path):
    import tarfile

    archive = tmp_path / 'a.tar'
    with tarfile.open(archive, 'w') as tf:
        info = tarfile.TarInfo('link')
        info.type = tarfile.SYMTYPE
        info.linkname = '/etc/passwd'
        tf.addfile(info)
    with pytest.raises(ValueError, match="'link' is a link"):
        common.extract_archive(archive, tmp_path / 'dest')


def test_rle_decode_matches_runs():
    # Column-major runs: 2 zeros, 3 ones, 1 zero over a 3x2 image.
    mask = common.rle_decode([2, 3, 1], 3, 2)
    np.testing.assert_array_equal(mask, np.array([[0, 1], [0, 1], [1, 0]], np.uint8))
    with pytest.raises(ValueError, match='expected 6'):
        common.rle_decode([2, 3], 3, 2)
