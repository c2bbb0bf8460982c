"""Tests of the palette helpers: named palettes, colorize and indexed palette PNGs."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from segtools.datasets.cityscapes import CityscapesDataset
from segtools.visualization.palette import colorize, get_palette, save_palette_png


def _voc_color(class_id: int) -> list[int]:
    """VOC's colour map written from its definition: bit 3k + c of the id -> bit 7 - k of channel c."""
    return [sum(((class_id >> (3 * k + c)) & 1) << (7 - k) for k in range(8)) for c in range(3)]


@pytest.mark.parametrize(('name', 'length'), [('voc', 21), ('VOC', 21), ('cityscapes', 19), ('ade', 150)])
def test_named_palettes(name, length):
    palette = get_palette(name)
    assert palette.shape == (length, 3) and palette.dtype == np.uint8


def test_voc_palette_follows_the_bit_interleaving_formula():
    palette = get_palette('voc')
    assert palette.tolist() == [_voc_color(i) for i in range(21)]
    assert palette[1].tolist() == [128, 0, 0] and palette[15].tolist() == [192, 128, 128]


def test_cityscapes_palette_is_the_dataset_palette():
    assert get_palette('cityscapes').tolist() == CityscapesDataset.METAINFO['palette']
    assert get_palette(dict(CityscapesDataset.METAINFO)).tolist() == CityscapesDataset.METAINFO['palette']


def test_meta_without_palette_gets_a_deterministic_generated_one():
    meta = dict(classes=('a', 'b', 'c', 'd'))
    first, second = get_palette(meta), get_palette(meta)
    assert first.shape == (4, 3)
    np.testing.assert_array_equal(first, second)


def test_bad_palette_requests_raise_clearly():
    with pytest.raises(KeyError, match='nope'):
        get_palette('nope')
    with pytest.raises(ValueError, match='neither'):
        get_palette(dict(foo=1))
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        get_palette([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match='300'):
        get_palette([[0, 0, 300]])


def test_colorize_matches_per_pixel_lookup_and_blacks_out_ignore():
    rng = np.random.default_rng(0)
    palette = rng.integers(1, 256, size=(5, 3)).tolist()  # no black class, so ignore is distinguishable
    label = rng.integers(0, 5, size=(7, 9))
    label[rng.random(label.shape) < 0.2] = 255
    out = colorize(label, palette)
    assert out.shape == (7, 9, 3) and out.dtype == np.uint8
    for (y, x), value in np.ndenumerate(label):
        expected = [0, 0, 0] if value == 255 else palette[value]
        assert out[y, x].tolist() == expected


def test_colorize_accepts_tensors_custom_ignore_and_colour():
    label = torch.tensor([[[0, 1], [7, 1]]])  # (1, H, W) like PixelData.data
    out = colorize(label, [[10, 20, 30], [40, 50, 60]], ignore_index=7, ignore_color=(255, 255, 255))
    assert out.tolist() == [[[10, 20, 30], [40, 50, 60]], [[255, 255, 255], [40, 50, 60]]]


def test_colorize_rejects_labels_without_a_colour():
    label = np.array([[0, 1], [5, 255]])
    with pytest.raises(ValueError, match=r'\[5\].*2 entries'):
        colorize(label, [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match='integer'):
        colorize(label.astype(np.float32), 'voc')


def test_save_palette_png_round_trips_ids_and_colours(tmp_path):
    rng = np.random.default_rng(1)
    label = rng.integers(0, 21, size=(6, 8)).astype(np.uint8)
    label[0, :3] = 255
    path = tmp_path / 'sub' / 'mask.png'
    save_palette_png(label, path, 'voc')

    with Image.open(path) as image:
        assert image.mode == 'P'
        np.testing.assert_array_equal(np.array(image), label)
    # A colour reader sees the palette colours: those of colorize, in BGR.
    colour = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(colour[..., ::-1], colorize(label, 'voc'))
    assert sorted(p.name for p in path.parent.iterdir()) == ['mask.png']  # no temporary file left


def test_save_palette_png_refuses_bad_labels_without_writing(tmp_path):
    path = tmp_path / 'mask.png'
    with pytest.raises(ValueError, match='30'):
        save_palette_png(np.array([[0, 30]]), path, 'voc')
    assert not path.exists() and list(tmp_path.iterdir()) == []
