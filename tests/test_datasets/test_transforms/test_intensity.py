"""to_8bit_range: 16-bit and float images scaled to 0..255 by their real range, never silently by 256."""

import warnings

import numpy as np
import pytest

from segtools.datasets.transforms import intensity
from segtools.datasets.transforms.intensity import assumed_bit_depth, check_intensity_args, to_8bit_range
from segtools.datasets.validation import DatasetError
from segtools.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test sees the once-per-depth warnings anew."""
    monkeypatch.setattr(intensity, '_WARNED_DEPTHS', set())


def expected(values: np.ndarray, max_value: int) -> np.ndarray:
    return np.rint(values.astype(np.float64) * 255 / max_value).astype(np.uint8)


def test_uint8_is_returned_unchanged_whatever_the_arguments():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for kwargs in (dict(), dict(bit_depth=12), dict(value_range=(0, 4095))):
        assert to_8bit_range(img, 'a.png', **kwargs) is img


@pytest.mark.parametrize(('max_value', 'depth'), [(300, 10), (1023, 10), (1024, 12), (4095, 12), (16383, 14)])
def test_auto_depth_is_the_smallest_standard_depth_holding_the_maximum(max_value, depth):
    img = np.array([[0, 100, max_value]], dtype=np.uint16)
    assert assumed_bit_depth(max_value) == depth
    with pytest.warns(UserWarning, match=rf'scan\.png.*max value {max_value}.*assuming {depth}-bit.*bit_depth='):
        out = to_8bit_range(img, 'scan.png')
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected(img, 2**depth - 1))


def test_auto_depth_warns_once_per_assumed_depth():
    with pytest.warns(UserWarning) as record:
        for max_value in (4000, 4095, 3000, 900):  # 12, 12, 12, then 10 bits
            to_8bit_range(np.array([[max_value]], np.uint16), f'slice_{max_value}.png')
    assert [str(w.message).split(':')[0] for w in record] == ['slice_4000.png', 'slice_900.png']


def test_sixteen_bit_full_range_and_float_output():
    img = np.array([[0, 257, 65535]], dtype=np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # an explicit depth never warns
        np.testing.assert_array_equal(to_8bit_range(img, 'a.png', bit_depth=16), [[0, 1, 255]])
        out = to_8bit_range(np.array([[0, 1, 4095]], np.uint16), 'a.png', bit_depth=12, to_float32=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 255 / 4095, 255]], rtol=1e-6)


def test_explicit_bit_depth_smaller_than_the_data_is_an_error():
    with pytest.raises(DatasetError, match=r't1\.png: values up to 4095 do not fit bit_depth=10.*bit_depth=12'):
        to_8bit_range(np.array([[4095]], np.uint16), 't1.png', bit_depth=10)


def test_value_range_maps_low_high_and_clips():
    img = np.array([[-1000, -300, 400, 2000]], dtype=np.int16)  # CT: a [-1000, 400] HU window
    out = to_8bit_range(img, 'ct.png', value_range=(-1000.0, 400.0))
    np.testing.assert_array_equal(out, [[0, round(700 * 255 / 1400), 255, 255]])
    floats = np.array([[0.0, 0.25, 1.5]], dtype=np.float32)
    np.testing.assert_array_equal(to_8bit_range(floats, 'refl.tif', value_range=(0, 1)), [[0, 64, 255]])


def test_data_without_a_scale_is_refused_naming_file_and_values():
    with pytest.raises(DatasetError, match=r'refl\.tif: a float32 image with values in \[0, 1\.5\].*value_range'):
        to_8bit_range(np.array([[0.0, 1.5]], np.float32), 'refl.tif')
    with pytest.raises(DatasetError, match=r'ct\.png: a signed int16 image with values in \[-5, 7\].*value_range'):
        to_8bit_range(np.array([[-5, 7]], np.int16), 'ct.png')
    with pytest.raises(DatasetError, match=r'wide\.tif: a int32 image with values up to 70000, beyond 16 bits'):
        to_8bit_range(np.array([[70000]], np.int32), 'wide.tif')


@pytest.mark.parametrize(
    ('bit_depth', 'value_range', 'match'),
    [
        (12, (0, 4095), 'not both'),
        (0, None, 'bit_depth must be in 1..16, got 0'),
        (17, None, 'bit_depth must be in 1..16, got 17'),
        (True, None, 'bit_depth must be an int'),
        (None, (5, 5), 'low < high'),
        (None, (0,), 'pair'),
    ],
)
def test_bad_arguments_are_config_errors(bit_depth, value_range, match):
    with pytest.raises(ConfigError, match=match):
        check_intensity_args(bit_depth, value_range, 'LoadImageFromFile')


def test_arguments_are_normalised():
    assert check_intensity_args(None, (0, 4095), 'x') == (0.0, 4095.0)
    assert check_intensity_args(12, None, 'x') is None
