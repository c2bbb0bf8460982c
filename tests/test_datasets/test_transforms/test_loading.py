"""LoadAnnotations: index masks, reduce_zero_label, label_map and clear errors on bad masks."""

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from segtools.datasets.transforms.loading import LoadAnnotations
from segtools.datasets.validation import DatasetError, read_mask
from segtools.errors import ConfigError
from segtools.palettes import voc_palette
from segtools.registry import TRANSFORMS

RAW = np.array([[0, 1, 2, 5], [150, 254, 255, 0]], dtype=np.uint8)


def write(path, array) -> str:
    assert cv2.imwrite(str(path), array)
    return str(path)


def expected_reduced(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.int64) - 1
    out[raw == 0] = 255
    out[raw == 255] = 255
    return out.astype(np.uint8)


def test_loads_index_mask_unchanged(tmp_path):
    path = write(tmp_path / 'a.png', RAW)
    results = LoadAnnotations()(dict(seg_map_path=path))
    np.testing.assert_array_equal(results['gt_seg_map'], RAW)
    assert results['gt_seg_map'].dtype == np.uint8
    assert results['seg_fields'] == ['gt_seg_map']
    assert results['reduce_zero_label'] is False
    # Loading twice must not list the field twice.
    assert LoadAnnotations()(results)['seg_fields'] == ['gt_seg_map']


@pytest.mark.parametrize('arg, from_dataset', [(True, None), (None, True), (True, True)])
def test_reduce_zero_label(tmp_path, arg, from_dataset):
    path = write(tmp_path / 'a.png', RAW)
    results = dict(seg_map_path=path)
    if from_dataset is not None:
        results['reduce_zero_label'] = from_dataset
    out = LoadAnnotations(reduce_zero_label=arg)(results)
    np.testing.assert_array_equal(out['gt_seg_map'], expected_reduced(RAW))
    assert out['reduce_zero_label'] is True
    # 0 -> ignore, k -> k - 1, 255 stays ignore
    assert out['gt_seg_map'][0, 0] == 255 and out['gt_seg_map'][0, 1] == 0 and out['gt_seg_map'][1, 2] == 255


def test_reduce_zero_label_disagreement_is_an_error(tmp_path):
    path = write(tmp_path / 'a.png', RAW)
    with pytest.raises(ValueError, match='disagrees'):
        LoadAnnotations(reduce_zero_label=False)(dict(seg_map_path=path, reduce_zero_label=True))


def test_label_map_applied_after_reduce_zero_label(tmp_path):
    path = write(tmp_path / 'a.png', RAW)
    label_map = {0: 255, 1: 0, 4: 1}  # keys are (reduced) class indices
    out = LoadAnnotations()(dict(seg_map_path=path, reduce_zero_label=True, label_map=label_map))
    expected = expected_reduced(RAW)
    lut = np.arange(256)
    for old, new in label_map.items():
        lut[old] = new
    np.testing.assert_array_equal(out['gt_seg_map'], lut[expected])
    plain = LoadAnnotations()(dict(seg_map_path=path, label_map={1: 7, 5: 255}))
    assert plain['gt_seg_map'][0, 1] == 7 and plain['gt_seg_map'][0, 3] == 255 and plain['gt_seg_map'][0, 2] == 2


def test_colour_mask_is_refused_naming_the_file(tmp_path):
    colour = np.zeros((4, 5, 3), np.uint8)
    colour[:, :2] = (0, 0, 128)
    colour[:, 2:] = (0, 128, 0)
    path = write(tmp_path / 'colour_mask.png', colour)
    with pytest.raises(ValueError, match='colour_mask.png') as info:
        LoadAnnotations()(dict(seg_map_path=path))
    assert 'index mask' in str(info.value) and '3-channel' in str(info.value)


def test_grey_mask_saved_as_three_channels_is_refused_as_by_the_dataset_check(tmp_path):
    # One decoder for the check and the loader: what the check refuses, loading refuses too.
    path = write(tmp_path / 'grey3.png', np.repeat(RAW[..., None], 3, axis=2))
    with pytest.raises(DatasetError, match=r'grey3\.png.*3 identical channels'):
        LoadAnnotations()(dict(seg_map_path=path))
    with pytest.raises(DatasetError, match=r'grey3\.png.*3 identical channels'):
        read_mask(path)


def test_missing_and_undecodable_files(tmp_path):
    missing = str(tmp_path / 'missing.png')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        LoadAnnotations()(dict(seg_map_path=missing))
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png'):
        LoadAnnotations()(dict(seg_map_path=str(broken)))


def test_sixteen_bit_mask_out_of_range(tmp_path):
    path = write(tmp_path / 'wide.png', np.array([[1, 300]], dtype=np.uint16))
    with pytest.raises(DatasetError, match=r'wide.png.*16-bit.*\[300\].*0\.\.255'):
        LoadAnnotations()(dict(seg_map_path=path))
    ok = write(tmp_path / 'wide_ok.png', np.array([[1, 200]], dtype=np.uint16))
    out = LoadAnnotations()(dict(seg_map_path=ok))['gt_seg_map']
    assert out.dtype == np.uint8 and out.tolist() == [[1, 200]]


def test_mask_size_must_match_image(tmp_path):
    path = write(tmp_path / 'small.png', RAW)
    with pytest.raises(ValueError, match=r'small.png.*img.jpg'):
        LoadAnnotations()(dict(seg_map_path=path, img_path='img.jpg', ori_shape=(3, 4)))


def test_registry_resolves_segtools_and_mmcv_loaders(tmp_path):
    init_default_scope('segtools')
    img_path = write(tmp_path / 'img.png', np.full((2, 4, 3), 9, np.uint8))
    seg_path = write(tmp_path / 'seg.png', RAW)
    results = dict(img_path=img_path, seg_map_path=seg_path)
    for cfg in (dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True)):
        results = TRANSFORMS.build(cfg)(results)
    assert isinstance(TRANSFORMS.build(dict(type='LoadAnnotations')), LoadAnnotations)
    assert results['img'].shape == (2, 4, 3) and results['ori_shape'] == (2, 4)
    np.testing.assert_array_equal(results['gt_seg_map'], expected_reduced(RAW))


def test_out_of_range_labels_fail_per_sample_naming_the_file(tmp_path):
    # A dataset built without the up-front sample check still refuses the bad mask when it
    # is loaded, before any loss (or CUDA device assert) sees it.
    import cv2
    from mmengine.registry import DefaultScope

    from segtools.datasets.validation import DatasetError
    from segtools.registry import DATASETS

    for sub in ('img', 'ann'):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / 'img' / 'a.png'), np.zeros((4, 5, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'ann' / 'a.png'), np.full((4, 5), 7, np.uint8))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    with DefaultScope.overwrite_default_scope('segtools'):
        dataset = DATASETS.build(
            dict(
                type='BaseSegDataset',
                data_root=str(tmp_path),
                data_prefix=dict(img_path='img', seg_map_path='ann'),
                img_suffix='.png',
                metainfo=dict(classes=('a', 'b', 'c')),
                pipeline=pipeline,
                validate=False,
            )
        )
        with pytest.raises(DatasetError, match=r'a\.png.*values \[7\]'):
            dataset[0]


# --------------------------------------------------------- one label decoder for check and loader
# Class ids with VOC's 255 border, in a palette PNG with VOC's colour map: OpenCV would expand
# it to colours (index 1 -> (128, 0, 0)), the shared decoder keeps the indices.
IDS = np.array([[0, 1, 2, 255], [15, 20, 255, 0], [7, 7, 3, 255]], dtype=np.uint8)


def save_label_png(path, ids: np.ndarray, mode: str) -> str:
    """Write ``ids`` as a real PNG of Pillow ``mode``: 'P' (VOC palette), 'L' or 'I;16'."""
    if mode == 'P':
        png = Image.fromarray(ids, mode='P')
        png.putpalette([v for colour in voc_palette(256) for v in colour])
    elif mode == 'I;16':
        png = Image.fromarray(ids.astype(np.uint16))
    else:
        png = Image.fromarray(ids, mode='L')
    png.save(path)
    with Image.open(path) as check:
        assert check.mode == mode
    return str(path)


@pytest.mark.parametrize('mode', ['P', 'L', 'I;16'])
def test_label_png_modes_load_as_class_ids_like_the_dataset_check(tmp_path, mode):
    path = save_label_png(tmp_path / f'ids_{mode.replace(";", "")}.png', IDS, mode)
    loaded = LoadAnnotations()(dict(seg_map_path=path))['gt_seg_map']
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, IDS)
    np.testing.assert_array_equal(read_mask(path), IDS)  # the dataset check reads the same ids


def test_palette_mask_with_reduce_zero_label_and_class_check(tmp_path):
    path = save_label_png(tmp_path / 'pal.png', IDS, 'P')
    out = LoadAnnotations()(dict(seg_map_path=path, reduce_zero_label=True, num_classes=20, ignore_index=255))
    np.testing.assert_array_equal(out['gt_seg_map'], expected_reduced(IDS))


def test_sixteen_bit_label_png_above_255_is_refused_naming_file_and_values(tmp_path):
    ids = IDS.astype(np.uint16)
    ids[0, :2] = (256, 4000)
    path = tmp_path / 'deep_ids.png'
    Image.fromarray(ids).save(path)
    for read in (lambda: LoadAnnotations()(dict(seg_map_path=str(path))), lambda: read_mask(str(path))):
        with pytest.raises(DatasetError, match=r'deep_ids\.png.*values \[256, 4000\] outside 0\.\.255'):
            read()


@pytest.mark.parametrize('backend', ['cv2', 'tifffile'])
def test_a_decoder_that_could_expand_palettes_is_refused_naming_it(backend):
    with pytest.raises(ConfigError, match=f"imdecode_backend='{backend}'.*palette"):
        LoadAnnotations(imdecode_backend=backend)
    assert LoadAnnotations(imdecode_backend='pillow').imdecode_backend == 'pillow'  # mmseg's default
