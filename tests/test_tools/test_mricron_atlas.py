"""Tests of tools/dataset_converters/mricron_atlas.py on a tiny synthetic NIfTI pair.

Needs nibabel (requirements/data.txt); skipped cleanly without it.
"""

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

nib = pytest.importorskip('nibabel')

CONVERTER = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters' / 'mricron_atlas.py'


def _load_converter():
    spec = importlib.util.spec_from_file_location('mricron_atlas', CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conv = _load_converter()

# A hand-picked subset of real AAL names with their ids, so that hemisphere merging and
# several groups are exercised; expected classes are spelled out from the rules' intent.
NAMES = {
    1: ('Precentral_L', 'frontal'),
    2: ('Precentral_R', 'frontal'),
    29: ('Insula_L', 'insula'),
    37: ('Hippocampus_L', 'hippocampus_amygdala'),
    55: ('Fusiform_L', 'occipital'),
    69: ('Paracentral_Lobule_L', 'parietal'),
    78: ('Thalamus_R', 'thalamus'),
    83: ('Temporal_Pole_Sup_L', 'temporal'),
    91: ('Cerebelum_Crus1_L', 'cerebellum'),
    109: ('Vermis_1_2', 'vermis'),
}
SHAPE = (10, 12, 8)  # X (left-right), Y (posterior-anterior), Z (inferior-superior)


def _write_source(folder: Path, labelled_z: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Write ch2/aal/names into ``folder``: slice z holds ``labelled_z[z]`` labelled voxels."""
    rng = np.random.default_rng(0)
    t1 = rng.integers(1, 200, size=SHAPE).astype(np.uint8)
    atlas = np.zeros(SHAPE, dtype=np.uint8)
    ids = np.array(sorted(NAMES), dtype=np.uint8)
    for z, count in labelled_z.items():
        flat = atlas[:, :, z].reshape(-1)
        flat[:count] = ids[np.arange(count) % len(ids)]
        atlas[:, :, z] = flat.reshape(SHAPE[:2])
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(t1, affine), str(folder / 'ch2.nii.gz'))
    nib.save(nib.Nifti1Image(atlas, affine), str(folder / 'aal.nii.gz'))
    lines = [f'{i} {name} {9000 + i}' for i, (name, _) in sorted(NAMES.items())]
    (folder / 'aal.nii.txt').write_text('\n'.join(lines) + '\n')
    return t1, atlas


@pytest.fixture
def source(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    # 120 pixels per slice; slices 0 and 7 hold 3 labelled voxels (2.5%), the rest 40+.
    labelled = {z: 40 + 5 * z for z in range(1, 7)}
    labelled.update({0: 3, 7: 3})
    t1, atlas = _write_source(src, labelled)
    return src, t1, atlas


def test_group_regions_merges_hemispheres_by_name():
    names = {i: name for i, (name, _) in NAMES.items()}
    mapping = conv.group_regions(names)
    assert {i: conv.CLASSES[c] for i, c in mapping.items()} == {i: cls for i, (_, cls) in NAMES.items()}
    groups = conv.label_groups(names, mapping)
    assert groups['frontal'] == ['Precentral']  # _L and _R merged into one name
    assert groups['vermis'] == ['Vermis_1_2']  # no hemisphere suffix to strip


def test_real_names_file_every_region_grouped():
    path = Path('/usr/share/mricron/templates/aal.nii.txt')
    if not path.is_file():
        pytest.skip(f'{path} missing (apt-get install mricron-data)')
    mapping = conv.group_regions(conv.parse_names(path))
    assert sorted(mapping) == list(range(1, 117))
    assert set(mapping.values()) == set(range(1, len(conv.CLASSES)))


def test_unmatched_region_name_is_an_error():
    with pytest.raises(ValueError, match=r"aal\.nii\.txt: region 5 'Claustrum_L' matches 0"):
        conv.group_regions({5: 'Claustrum_L'})


def test_block_split_is_contiguous_with_gap():
    indices = list(range(10, 30))
    train, val = conv.block_split(indices, (0.25, 0.5), gap=1)
    assert val == list(range(15, 20))
    assert train == list(range(10, 14)) + list(range(21, 30))
    with pytest.raises(ValueError, match='--val-block'):
        conv.block_split(indices, (0.5, 0.2), gap=0)


def test_convert_layout_labels_and_split(source, tmp_path):
    src, t1, atlas = source
    out = tmp_path / 'out'
    meta = conv.convert(src, out, axis=2, val_block=(0.5, 0.8), val_gap=0, min_brain_fraction=0.1)

    # slices 0 and 7 fall below 10% labelled; kept 1..6, val = positions 3..4 of 6 -> z 4, 5
    assert meta['split']['train'] == [1, 2, 3, 6]
    assert meta['split']['val'] == [4, 5]
    assert json.loads((out / 'classes.json').read_text()) == meta
    assert meta['classes'] == list(conv.CLASSES)
    assert not list(tmp_path.glob('.out-*'))  # the temporary folder was renamed away

    lut = np.zeros(256, dtype=np.uint8)
    for region_id, (_, cls) in NAMES.items():
        lut[region_id] = conv.CLASSES.index(cls)
    for split, zs in (('train', [1, 2, 3, 6]), ('val', [4, 5])):
        names = sorted(p.name for p in (out / 'img_dir' / split).iterdir())
        assert names == [f'colin27_axial_{z:03d}.png' for z in zs]
        assert sorted(p.name for p in (out / 'ann_dir' / split).iterdir()) == names
        for z, name in zip(zs, names, strict=True):
            image = cv2.imread(str(out / 'img_dir' / split / name), cv2.IMREAD_UNCHANGED)
            label = cv2.imread(str(out / 'ann_dir' / split / name), cv2.IMREAD_UNCHANGED)
            # (H, W) = (Y, X): anterior (high y) in row 0, left (low x) in column 0
            assert image.shape == label.shape == (SHAPE[1], SHAPE[0])
            assert image.dtype == label.dtype == np.uint8
            np.testing.assert_array_equal(label, lut[atlas[:, :, z]].T[::-1])
            # intensity order is preserved by the monotone window
            order = np.argsort(t1[:, :, z].T[::-1], axis=None, kind='stable')
            assert np.all(np.diff(image.reshape(-1)[order].astype(int)) >= 0)


def test_convert_sagittal_axis(source, tmp_path):
    src, _, atlas = source
    meta = conv.convert(src, tmp_path / 'sag', axis=0, val_block=(0.0, 0.5), val_gap=0, min_brain_fraction=0.0)
    assert meta['axis'] == dict(index=0, name='sagittal')
    image = cv2.imread(str(tmp_path / 'sag' / 'img_dir' / 'val' / 'colin27_sagittal_000.png'), cv2.IMREAD_UNCHANGED)
    assert image.shape == (SHAPE[2], SHAPE[1])  # rows = z (superior on top), columns = y


def test_overwrite_keeps_hand_written_files(source, tmp_path):
    src, _, _ = source
    out = tmp_path / 'out'
    conv.convert(src, out, min_brain_fraction=0.1)
    (out / 'README.md').write_text('notes')
    (out / 'img_dir' / 'train' / 'stale.png').write_bytes(b'')
    with pytest.raises(FileExistsError, match='--overwrite'):
        conv.convert(src, out, min_brain_fraction=0.1)
    conv.main(['--src', str(src), '--out', str(out), '--min-brain-fraction', '0.1', '--overwrite'])
    assert (out / 'README.md').read_text() == 'notes'
    assert not (out / 'img_dir' / 'train' / 'stale.png').exists()


def test_missing_input_names_file_and_package(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'aal\.nii\.txt not found.*apt-get install mricron-data'):
        conv.convert(tmp_path, tmp_path / 'out')
    (tmp_path / 'aal.nii.txt').write_text('1 Insula_L 3001\n')
    with pytest.raises(FileNotFoundError, match=r'ch2\.nii\.gz not found.*mricron-data'):
        conv.convert(tmp_path, tmp_path / 'out')


def test_atlas_id_missing_from_names_is_an_error(source, tmp_path):
    src, _, _ = source
    (src / 'aal.nii.txt').write_text('1 Precentral_L 2001\n')
    with pytest.raises(ValueError, match=r'aal\.nii\.gz: region ids \[2, 29'):
        conv.convert(src, tmp_path / 'out')
