"""LoadImageFromFile / LoadImageFromNDArray: mmcv's output for 8-bit files, 16-bit data scaled by its range."""

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from PIL import Image

from segtools.datasets.transforms import intensity
from segtools.datasets.transforms.loading import LoadImageFromFile, LoadImageFromNDArray
from segtools.datasets.validation import DatasetError, read_image
from segtools.registry import TRANSFORMS

# A 12-bit ramp (0..4095) as MRI scanners store it, in a 16-bit container.
RAMP12 = (np.arange(6 * 8, dtype=np.float64).reshape(6, 8) * 4095 / 47).round().astype(np.uint16)
COLOR_TYPES = ('color', 'grayscale', 'unchanged', 'color_ignore_orientation')


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(intensity, '_WARNED_DEPTHS', set())


def scaled(values: np.ndarray, max_value: int) -> np.ndarray:
    return np.rint(values.astype(np.float64) * 255 / max_value).astype(np.uint8)


def load(path, **kwargs) -> np.ndarray:
    return LoadImageFromFile(**kwargs)(dict(img_path=str(path)))['img']


@pytest.fixture
def eight_bit_files(tmp_path) -> list:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    files = []
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation "rotate 90 CW": OpenCV's colour modes apply it
    Image.fromarray(colour).save(tmp_path / 'rotated.jpg', exif=exif)
    files.append(tmp_path / 'rotated.jpg')
    cv2.imwrite(str(tmp_path / 'gray.png'), colour[..., 0])
    cv2.imwrite(str(tmp_path / 'rgba.png'), np.dstack([colour, colour[..., :1]]))
    palette = Image.fromarray(colour[..., 1] // 16, mode='P')
    palette.putpalette([v for i in range(256) for v in (i, 255 - i, 3 * i % 256)])
    palette.save(tmp_path / 'palette.png')
    files += [tmp_path / 'gray.png', tmp_path / 'rgba.png', tmp_path / 'palette.png']
    return files


@pytest.mark.parametrize('color_type', COLOR_TYPES)
@pytest.mark.parametrize('to_float32', [False, True])
def test_eight_bit_files_load_exactly_as_mmcv_loads_them(eight_bit_files, color_type, to_float32):
    for path in eight_bit_files:
        kwargs = dict(color_type=color_type, to_float32=to_float32)
        ours = LoadImageFromFile(**kwargs)(dict(img_path=str(path)))
        theirs = MMCVLoadImageFromFile(**kwargs)(dict(img_path=str(path)))
        assert ours['img'].dtype == theirs['img'].dtype, path
        np.testing.assert_array_equal(ours['img'], theirs['img'], err_msg=str(path))
        assert ours['img_shape'] == theirs['img_shape'] and ours['ori_shape'] == theirs['ori_shape']


def test_config_name_resolves_to_the_segtools_loader():
    loader = TRANSFORMS.build(dict(type='LoadImageFromFile', bit_depth=12))
    assert type(loader) is LoadImageFromFile and isinstance(loader, MMCVLoadImageFromFile)
    assert loader.bit_depth == 12 and 'bit_depth=12' in repr(loader)


@pytest.mark.parametrize('color_type', ['color', 'grayscale', 'unchanged'])
def test_twelve_bit_png_is_scaled_by_its_depth_not_by_256(tmp_path, color_type):
    path = tmp_path / 'mri_slice.png'
    assert cv2.imwrite(str(path), RAMP12)
    want = scaled(RAMP12, 4095)
    with pytest.warns(UserWarning, match=r'mri_slice\.png.*max value 4095.*assuming 12-bit.*bit_depth=12'):
        img = load(path, color_type=color_type)
    assert img.dtype == np.uint8
    planes = [img] if img.ndim == 2 else [img[..., c] for c in range(3)]
    assert (img.shape[2] == 3) if color_type == 'color' else img.ndim == 2
    for plane in planes:
        np.testing.assert_array_equal(plane, want)
    for kwargs in (dict(bit_depth=12), dict(value_range=(0, 4095))):
        np.testing.assert_array_equal(load(path, color_type=color_type, **kwargs), img)
    floats = load(path, color_type=color_type, bit_depth=12, to_float32=True)
    assert floats.dtype == np.float32
    np.testing.assert_allclose(floats if floats.ndim == 2 else floats[..., 0], RAMP12 * (255 / 4095), rtol=1e-5)


def test_sixteen_bit_colour_png_keeps_channels(tmp_path):
    bgr = np.dstack([RAMP12 * 16, RAMP12 * 8, RAMP12]).astype(np.uint16)  # 16, 15 and 12 bits used
    path = tmp_path / 'tile.png'
    assert cv2.imwrite(str(path), bgr)
    img = load(path, bit_depth=16)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], scaled(bgr[..., c], 65535))


def test_bit_depth_too_small_for_the_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / 'mri_slice.png'
    cv2.imwrite(str(path), RAMP12)
    with pytest.raises(DatasetError, match=r'mri_slice\.png: values up to 4095 do not fit bit_depth=10'):
        load(path, bit_depth=10)


def test_unreadable_file_names_it_or_is_skipped_with_ignore_empty(tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG truncated')
    with pytest.raises(DatasetError, match=r'broken\.png: the image could not be decoded'):
        load(broken)
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(broken))) is None
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(tmp_path / 'absent.png'))) is None


def test_pillow_backend_refuses_sixteen_bit_gray_instead_of_clipping(tmp_path):
    path = tmp_path / 'mri_slice.png'
    Image.fromarray(RAMP12).save(path)
    with pytest.raises(DatasetError, match=r"mri_slice\.png: a 'I;16'.*imdecode_backend='cv2'"):
        load(path, imdecode_backend='pillow')
    # 'unchanged' keeps the depth with Pillow too, and is scaled like the cv2 result.
    unchanged = load(path, imdecode_backend='pillow', color_type='unchanged', bit_depth=12)
    np.testing.assert_array_equal(unchanged, scaled(RAMP12, 4095))


def test_dataset_check_reads_sixteen_bit_images_at_full_depth(tmp_path):
    path = tmp_path / 'mri_slice.png'
    cv2.imwrite(str(path), RAMP12)
    img = read_image(str(path))
    assert img.shape == (*RAMP12.shape, 3) and img.dtype == np.uint16
    np.testing.assert_array_equal(img[..., 0], RAMP12)


@pytest.mark.filterwarnings('ignore:.*assuming 12-bit data')
@pytest.mark.parametrize('color_type', ['color', 'grayscale'])
@pytest.mark.parametrize('kwargs', [dict(), dict(bit_depth=12), dict(value_range=(0, 4095), to_float32=True)])
def test_an_array_and_a_file_of_one_picture_give_the_same_image(tmp_path, color_type, kwargs):
    gray_path, colour_path = tmp_path / 'gray.png', tmp_path / 'colour.png'
    colour = np.dstack([RAMP12, RAMP12[::-1], RAMP12[:, ::-1]])
    cv2.imwrite(str(gray_path), RAMP12)
    cv2.imwrite(str(colour_path), colour)
    for path, array in ((gray_path, RAMP12), (colour_path, colour)):
        from_file = load(path, color_type=color_type, **kwargs)
        from_array = LoadImageFromNDArray(color_type=color_type, **kwargs)(dict(img=array.copy()))['img']
        assert from_array.dtype == from_file.dtype
        # OpenCV's BGR->gray conversion rounds in the decoder and in cvtColor alike, to within one step.
        np.testing.assert_allclose(from_array, from_file, atol=1 if color_type == 'grayscale' else 0, rtol=0)
