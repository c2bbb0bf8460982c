"""segtools.palettes: light to import, the formulas of its palettes, and one source for datasets and names."""

import subprocess
import sys

import numpy as np
import pytest

from segtools.palettes import NAMED_PALETTES, generate_palette, voc_palette

# What importing the palettes must not drag in: they are data, used by light code.
HEAVY = ('torch', 'mmengine', 'mmcv', 'cv2', 'segtools.datasets', 'segtools.visualization', 'segtools.utils')


def test_importing_palettes_pulls_in_nothing_heavy():
    code = (
        f'import sys, segtools.palettes\nheavy = {HEAVY!r}\n'
        'print(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)))'
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '[]'


def test_voc_palette_formula():
    palette = voc_palette(256)
    assert palette[:3] == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    for class_id, (r, g, b) in enumerate(palette):
        # Independent statement: bit i of channel c is bit (3 * (7 - i) + c) of the id.
        for c, value in enumerate((r, g, b)):
            expected = sum(((class_id >> (3 * (7 - i) + c)) & 1) << i for i in range(8))
            assert value == expected
    assert len({tuple(c) for c in palette}) == 256


def test_generate_palette_is_seeded_and_leaves_the_global_rng():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    palette = generate_palette(7)
    assert np.array_equal(np.random.get_state()[1], before)
    assert palette == generate_palette(7) == np.random.default_rng(42).integers(0, 256, size=(7, 3)).tolist()
    assert palette != generate_palette(7, seed=0)
    assert all(0 <= v < 256 for colour in palette for v in colour)


@pytest.mark.parametrize(
    ('names', 'dataset'),
    [
        (('ade', 'ade20k'), 'ADE20KDataset'),
        (('cityscapes',), 'CityscapesDataset'),
        (('voc', 'pascal_voc'), 'PascalVOCDataset'),
        (('brain_atlas',), 'BrainAtlasDataset'),
    ],
)
def test_named_palettes_are_the_datasets_metainfo(names, dataset):
    import segtools.datasets

    metainfo = getattr(segtools.datasets, dataset).METAINFO
    for name in names:
        named = NAMED_PALETTES[name]
        assert named['classes'] == metainfo['classes'] and named['palette'] == metainfo['palette']
        assert len(named['palette']) == len(named['classes'])
    assert len(NAMED_PALETTES) == 6
