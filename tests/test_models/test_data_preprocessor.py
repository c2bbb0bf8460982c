"""Tests of SegDataPreProcessor: channel order, normalisation, padding, batched test padding, augments."""

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.models.data_preprocessor import SegDataPreProcessor
from segtools.registry import MODELS
from segtools.structures import SegDataSample

MEAN, STD = [10.0, 20.0, 30.0], [2.0, 4.0, 5.0]


def image(h: int, w: int, channels: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (channels, h, w), dtype=torch.uint8)


def labelled(h: int, w: int) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w)))
    sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, h, w)))
    return sample


@pytest.mark.parametrize('flag', ['bgr_to_rgb', 'rgb_to_bgr', None])
def test_channel_order_and_normalisation(flag):
    preprocessor = SegDataPreProcessor(mean=MEAN, std=STD, **({flag: True} if flag else {}))
    img = image(4, 5)
    out = preprocessor(dict(inputs=[img]))['inputs']
    expected = img.flip(0) if flag else img
    expected = (expected.float() - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[0], expected)


def test_single_channel_is_not_swapped_and_broadcasts_one_mean():
    preprocessor = SegDataPreProcessor(mean=[10.0], std=[2.0], bgr_to_rgb=True)
    img = image(4, 5, channels=1)
    torch.testing.assert_close(preprocessor(dict(inputs=[img]))['inputs'][0], (img.float() - 10) / 2)
    with pytest.raises(ValueError, match='3 values but the image has 1 channels'):
        SegDataPreProcessor(mean=MEAN, std=STD)(dict(inputs=[img]))


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(bgr_to_rgb=True, rgb_to_bgr=True), 'at most one of bgr_to_rgb and rgb_to_bgr'),
        (dict(mean=MEAN, std=STD[:2]), 'same non-zero length'),
        (dict(mean=MEAN), 'both mean and std'),
        (dict(mean=MEAN, std=[1.0, 0.0, 1.0]), 'std must be positive'),
        (dict(size=(4, 0)), 'size'),
        (dict(test_cfg=dict(size_divisr=4)), 'size_divisr'),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SegDataPreProcessor(**kwargs)


def test_misspelt_key_raises_type_error():
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(TypeError, match='seg_pad_value'):
        MODELS.build(dict(type='SegDataPreProcessor', seg_pad_value=255))


@pytest.mark.parametrize(
    'kwargs, padded',
    [(dict(size=(8, 8)), (8, 8)), (dict(size=6), (6, 7)), (dict(size_divisor=4), (8, 8)), (dict(), (5, 7))],
)
def test_training_padding(kwargs, padded):
    preprocessor = SegDataPreProcessor(mean=MEAN, std=STD, pad_val=-7, seg_pad_val=250, **kwargs)
    samples = [labelled(5, 7), labelled(5, 7)]
    gts = [s.gt_sem_seg.data.clone() for s in samples]
    out = preprocessor(dict(inputs=[image(5, 7), image(5, 7)], data_samples=samples), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    height, width = padded
    assert inputs.shape == (2, 3, height, width)
    assert (inputs[:, :, 5:] == -7).all() and (inputs[:, :, :, 7:] == -7).all()
    for gt, sample in zip(gts, samples, strict=True):
        assert sample.gt_sem_seg.data.shape == (1, height, width)
        assert torch.equal(sample.gt_sem_seg.data[:, :5, :7], gt)
        assert (sample.gt_sem_seg.data[:, 5:] == 250).all() and (sample.gt_sem_seg.data[:, :, 7:] == 250).all()
        assert sample.img_shape == (5, 7)
        assert sample.pad_shape == sample.batch_input_shape == (height, width)
        assert sample.padding_size == (0, width - 7, 0, height - 5)


@pytest.mark.parametrize('test_cfg, padded', [(None, (6, 7)), (dict(size_divisor=4), (8, 8)), (dict(size=9), (9, 9))])
def test_test_batch_of_different_sizes_is_padded_to_the_largest(test_cfg, padded):
    preprocessor = SegDataPreProcessor(size=(32, 32), test_cfg=test_cfg)  # training size unused at test time
    shapes = [(5, 7), (6, 4), (2, 2)]
    images = [image(*shape) for shape in shapes]
    samples = [SegDataSample(metainfo=dict(ori_shape=shape)) for shape in shapes]
    out = preprocessor(dict(inputs=images, data_samples=samples))
    height, width = padded
    assert out['inputs'].shape == (3, 3, height, width)
    for padded_img, img, (h, w), sample in zip(out['inputs'], images, shapes, out['data_samples'], strict=True):
        assert torch.equal(padded_img[:, :h, :w], img.float())
        assert (padded_img[:, h:] == 0).all() and (padded_img[:, :, w:] == 0).all()
        assert sample.img_shape == (h, w)
        assert sample.padding_size == (0, width - w, 0, height - h)


def test_batch_augments_apply_in_order_during_training_only():
    calls = []

    def add_one(inputs, data_samples):
        calls.append('add_one')
        return inputs + 1, data_samples

    def double(inputs, data_samples):
        calls.append('double')
        return inputs * 2, data_samples

    preprocessor = SegDataPreProcessor(batch_augments=[add_one, double])
    img = image(2, 3)
    torch.testing.assert_close(preprocessor(dict(inputs=[img]), training=True)['inputs'][0], (img.float() + 1) * 2)
    assert calls == ['add_one', 'double']
    torch.testing.assert_close(preprocessor(dict(inputs=[img]))['inputs'][0], img.float())
    assert calls == ['add_one', 'double']
    with pytest.raises(TypeError, match=r'batch_augments\[0\]'):
        SegDataPreProcessor(batch_augments=[3])


def test_stacked_tensor_input_and_label_size_check():
    preprocessor = SegDataPreProcessor()
    assert preprocessor(dict(inputs=torch.zeros(2, 3, 4, 4)))['inputs'].shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match='label map'):
        preprocessor(dict(inputs=[image(4, 4)], data_samples=[labelled(4, 5)]), training=True)


def test_test_time_labels_stay_at_their_loaded_size():
    # Test pipelines resize the image but load the label map afterwards, at the original size,
    # where the predictions are put back: the preprocessor must leave it alone.
    preprocessor = SegDataPreProcessor(size=(8, 8))
    sample = labelled(9, 11)
    gt = sample.gt_sem_seg.data.clone()
    out = preprocessor(dict(inputs=[image(4, 5)], data_samples=[sample]))
    assert out['inputs'].shape == (1, 3, 4, 5)
    assert torch.equal(out['data_samples'][0].gt_sem_seg.data, gt)
    assert out['data_samples'][0].img_shape == (4, 5)
