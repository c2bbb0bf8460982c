"""ClsDataPreProcessor: channel order, normalisation, stacking, one-hot targets and batch augments."""

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.cls_data_preprocessor import ClsDataPreProcessor
from segtools.registry import MODELS
from segtools.structures import ClsDataSample

MEAN, STD = [10.0, 20.0, 30.0], [2.0, 4.0, 5.0]


def image(h: int = 4, w: int = 5, channels: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (channels, h, w), dtype=torch.uint8)


def labelled(label: int) -> ClsDataSample:
    sample = ClsDataSample(metainfo=dict(img_path=f'{label}.png'))
    sample.gt_label = label
    return sample


@pytest.mark.parametrize('flag', ['bgr_to_rgb', 'rgb_to_bgr', None])
def test_channel_order_normalisation_and_stacking(flag):
    preprocessor = ClsDataPreProcessor(mean=MEAN, std=STD, **({flag: True} if flag else {}))
    imgs = [image(), image()]
    out = preprocessor(dict(inputs=imgs, data_samples=[labelled(0), labelled(1)]))
    expected = torch.stack([img.flip(0) if flag else img for img in imgs]).float()
    expected = (expected - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    assert out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'], expected)
    # A pre-stacked batch gives the same.
    torch.testing.assert_close(preprocessor(dict(inputs=torch.stack(imgs)))['inputs'], expected)


def test_images_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match=r'one size.*ERandomCrop, ECenterCrop'):
        ClsDataPreProcessor()(dict(inputs=[image(4, 5), image(5, 4)]))


def test_single_channel_is_not_swapped():
    img = image(channels=1)
    out = ClsDataPreProcessor(mean=[10.0], std=[2.0], bgr_to_rgb=True)(dict(inputs=[img]))['inputs']
    torch.testing.assert_close(out[0], (img.float() - 10) / 2)
    with pytest.raises(ValueError, match='3 values but the images have 1 channels'):
        ClsDataPreProcessor(mean=MEAN, std=STD)(dict(inputs=[img]))


def test_training_one_hot_encodes_before_the_augments_in_order():
    seen = []

    def record(inputs, samples):
        seen.append([s.gt_score.tolist() for s in samples])
        return inputs + 1, samples

    preprocessor = ClsDataPreProcessor(num_classes=3, batch_augments=[record, record])
    imgs, samples = [image(), image()], [labelled(2), labelled(0)]
    out = preprocessor(dict(inputs=imgs, data_samples=samples), training=True)
    assert seen == [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]] * 2
    torch.testing.assert_close(out['inputs'], torch.stack(imgs).float() + 2)
    # Evaluation leaves the labels (and images) alone.
    samples = [labelled(2)]
    out = preprocessor(dict(inputs=[imgs[0]], data_samples=samples), training=False)
    assert 'gt_score' not in out['data_samples'][0] and len(seen) == 2


def test_mixup_through_the_config():
    with DefaultScope.overwrite_default_scope('segtools'):
        preprocessor = MODELS.build(
            dict(type='ClsDataPreProcessor', num_classes=4, batch_augments=[dict(type='Mixup', alpha=0.2)])
        )
    samples = [labelled(i) for i in range(4)]
    out = preprocessor(dict(inputs=[image() for _ in range(4)], data_samples=samples), training=True)
    scores = torch.stack([s.gt_score for s in out['data_samples']])
    assert scores.shape == (4, 4)
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(4))


def test_label_outside_the_classes_names_the_image():
    preprocessor = ClsDataPreProcessor(num_classes=3, batch_augments=[lambda x, s: (x, s)])
    with pytest.raises(ValueError, match=r'gt_label 3 of 3.png is outside \[0, 2\]'):
        preprocessor(dict(inputs=[image(), image()], data_samples=[labelled(1), labelled(3)]), training=True)


@pytest.mark.parametrize(
    'kwargs, error, match',
    [
        (dict(bgr_to_rgb=True, rgb_to_bgr=True), ValueError, 'at most one'),
        (dict(mean=MEAN), ValueError, 'both mean and std'),
        (dict(mean=MEAN, std=STD[:2]), ValueError, 'same non-zero length'),
        (dict(mean=MEAN, std=[1.0, 0.0, 1.0]), ValueError, 'std must be positive'),
        (dict(batch_augments=[dict(type='Mixup', alpha=0.2)]), ValueError, 'need num_classes'),
        (dict(num_classes=0), ValueError, 'num_classes must be >= 1'),
        (dict(num_classes=2, batch_augments=[3]), TypeError, r'batch_augments\[0\]'),
        (dict(num_clases=2), TypeError, 'num_clases'),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(error, match=match):
        MODELS.build(dict(type='ClsDataPreProcessor', **kwargs))
