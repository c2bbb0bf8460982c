"""Tests of EncoderDecoder: forward modes, losses, post-processing, whole/slide inference, build checks."""

import copy

import pytest
import torch
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from torch import nn

import segtools.models.losses.cross_entropy_loss  # noqa: F401  (registers CrossEntropyLoss)
from segtools.models.data_preprocessor import SegDataPreProcessor
from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.models.segmentors.encoder_decoder import EncoderDecoder
from segtools.models.utils import resize
from segtools.registry import MODELS
from segtools.structures import SegDataSample

NUM_CLASSES = 3


@MODELS.register_module()
class _SegToyBackbone(BaseModule):
    """Two 1x1 convs after an optional average pool: pointwise at stride 1."""

    def __init__(
        self, in_channels: int = 3, out_channels: tuple = (4, 6), stride: int = 1, init_cfg: dict | None = None
    ) -> None:
        super().__init__(init_cfg)
        self.out_channels = tuple(out_channels)
        self.out_strides = (stride, stride)
        self.stride = stride
        self.conv0 = nn.Conv2d(in_channels, out_channels[0], 1)
        self.conv1 = nn.Conv2d(out_channels[0], out_channels[1], 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride > 1:
            x = nn.functional.avg_pool2d(x, self.stride)
        c0 = self.conv0(x)
        return c0, self.conv1(c0)


@MODELS.register_module()
class _SegToyNeck(nn.Module):
    """1x1 conv per level."""

    def __init__(self, in_channels: list, out_channels: int = 5) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        self.out_channels = (out_channels,) * len(in_channels)
        self.convs = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)

    def forward(self, inputs: tuple) -> tuple:
        return tuple(conv(x) for conv, x in zip(self.convs, inputs, strict=True))


@MODELS.register_module()
class _SegToyHead(BaseDecodeHead):
    """A 1x1 conv then ``cls_seg``: pointwise, so slide and whole inference agree."""

    def __init__(self, in_channels: int, channels: int, **kwargs) -> None:
        super().__init__(in_channels, channels, **kwargs)
        self.conv = nn.Conv2d(in_channels, channels, 1)

    def forward(self, inputs: tuple) -> torch.Tensor:
        return self.cls_seg(self.conv(self._transform_inputs(inputs)))


def head_cfg(in_channels: int = 6, **kwargs) -> dict:
    return (
        dict(type='_SegToyHead', in_channels=in_channels, channels=4, num_classes=NUM_CLASSES, dropout_ratio=0) | kwargs
    )


def model_cfg(**kwargs) -> dict:
    cfg = dict(type='EncoderDecoder', backbone=dict(type='_SegToyBackbone'), decode_head=head_cfg())
    cfg.update(kwargs)
    return cfg


def build(**kwargs) -> EncoderDecoder:
    model = MODELS.build(model_cfg(**kwargs))
    model.init_weights()
    return model.eval()


def sample(shape: tuple, **metainfo) -> SegDataSample:
    meta = dict(ori_shape=shape, img_shape=shape, pad_shape=shape, padding_size=(0, 0, 0, 0))
    meta.update(metainfo)
    data_sample = SegDataSample(metainfo=meta)
    data_sample.gt_sem_seg = PixelData(data=torch.randint(0, NUM_CLASSES, (1, *shape)))
    return data_sample


@pytest.fixture(autouse=True)
def segtools_scope():
    with DefaultScope.overwrite_default_scope('segtools'):
        yield


def test_tensor_mode_returns_head_logits():
    model = build(backbone=dict(type='_SegToyBackbone', stride=2))
    out = model(torch.rand(2, 3, 8, 12), mode='tensor')
    assert out.shape == (2, NUM_CLASSES, 4, 6)


@pytest.mark.parametrize(
    'auxiliary_head, aux_prefixes',
    [(None, []), (head_cfg(4, in_index=0), ['aux']), ([head_cfg(4, in_index=0), head_cfg()], ['aux_0', 'aux_1'])],
)
def test_loss_keys(auxiliary_head, aux_prefixes):
    model = build(auxiliary_head=auxiliary_head).train()
    samples = [sample((8, 8)), sample((8, 8))]
    losses = model(torch.rand(2, 3, 8, 8), samples, mode='loss')
    expected = {f'{prefix}.{key}' for prefix in ['decode', *aux_prefixes] for key in ('loss_ce', 'acc_seg')}
    assert set(losses) == expected
    for key in expected:
        assert torch.isfinite(losses[key]).all(), key


def test_unknown_forward_mode():
    with pytest.raises(ValueError, match="'train'"):
        build()(torch.rand(1, 3, 4, 4), mode='train')


def test_predict_without_samples():
    results = build().predict(torch.rand(2, 3, 6, 5))
    assert len(results) == 2
    for result in results:
        assert result.seg_logits.data.shape == (NUM_CLASSES, 6, 5)
        assert result.pred_sem_seg.data.shape == (1, 6, 5)
        assert torch.equal(result.pred_sem_seg.data, result.seg_logits.data.argmax(0, keepdim=True))


@pytest.mark.parametrize('direction, dims', [('horizontal', [-1]), ('vertical', [-2]), ('diagonal', [-2, -1])])
def test_predict_removes_padding_undoes_flip_and_resizes(direction, dims):
    model = build()
    image = torch.rand(1, 3, 5, 7)
    reference = model.predict(image)[0].seg_logits.data

    # The pipeline flips the image, then the preprocessor pads it right/bottom.
    padded = torch.nn.functional.pad(image.flip(dims), (0, 2, 0, 3))
    meta = dict(ori_shape=(5, 7), padding_size=(0, 2, 0, 3), flip=True, flip_direction=direction)
    result = model.predict(padded, [sample((8, 9), **meta)])[0]
    torch.testing.assert_close(result.seg_logits.data, reference)

    # ori_shape larger than the network input: logits are resized to it.
    result = model.predict(image, [sample((5, 7), ori_shape=(10, 14))])[0]
    assert result.pred_sem_seg.data.shape == (1, 10, 14)
    torch.testing.assert_close(result.seg_logits.data, resize(reference[None], (10, 14))[0])


def test_binary_prediction_uses_threshold():
    model = build(decode_head=head_cfg(num_classes=2, out_channels=1, threshold=0.4))
    result = model.predict(torch.rand(1, 3, 4, 4))[0]
    assert result.seg_logits.data.shape == (1, 4, 4)
    assert torch.equal(result.pred_sem_seg.data, (result.seg_logits.data.sigmoid() > 0.4).long())


@pytest.mark.parametrize('shape', [(7, 10), (3, 2), (4, 9)])
def test_slide_inference_of_a_constant_model_is_constant(shape):
    model = build(test_cfg=dict(mode='slide', crop_size=4, stride=3))
    constant = torch.tensor([0.5, -1.0, 2.0])
    with torch.no_grad():
        model.decode_head.conv_seg.weight.zero_()
        model.decode_head.conv_seg.bias.copy_(constant)
    logits = model.inference(torch.rand(2, 3, *shape), [{}, {}])
    assert logits.shape == (2, NUM_CLASSES, *shape)
    # Overlapping windows are fused as probabilities: the same distribution everywhere.
    expected = constant.softmax(0).view(1, -1, 1, 1).expand_as(logits)
    torch.testing.assert_close(logits.softmax(1), expected)


@pytest.mark.parametrize(
    'shape, test_cfg',
    [
        ((9, 11), dict(crop_size=4)),  # default stride: 2/3 of the crop
        ((9, 11), dict(crop_size=(4, 5), stride=(3, 2), window_batch=1)),
        ((9, 11), dict(crop_size=5, stride=5, window_batch=3)),
        ((3, 6), dict(crop_size=4, stride=2)),  # smaller than the crop in one dim: padded
    ],
)
def test_slide_matches_whole_for_a_pointwise_model(shape, test_cfg):
    whole = build()
    slide = build(test_cfg=dict(mode='slide', **test_cfg))
    slide.load_state_dict(whole.state_dict())
    inputs = torch.rand(2, 3, *shape)
    metas = [dict(img_shape=shape, pad_shape=shape), dict(img_shape=shape, pad_shape=shape)]
    before = copy.deepcopy(metas)
    with torch.no_grad():
        # Windows agree on a pointwise model; fused as probabilities, they give its distribution.
        torch.testing.assert_close(slide.inference(inputs, metas).softmax(1), whole.inference(inputs, metas).softmax(1))
    assert metas == before


def test_slide_of_one_window_returns_the_network_logits():
    whole = build()
    slide = build(test_cfg=dict(mode='slide', crop_size=8, stride=4))
    slide.load_state_dict(whole.state_dict())
    inputs = torch.rand(1, 3, 5, 8)  # padded to one 8x8 window
    with torch.no_grad():
        padded = torch.nn.functional.pad(inputs, (0, 0, 0, 3))
        torch.testing.assert_close(slide.inference(inputs, [{}]), whole.inference(padded, [{}])[:, :, :5])


@pytest.mark.parametrize(
    'device, window, images, expected',
    [('cpu', (512, 512), 1, 1), ('cpu', (769, 769), 1, 1), ('cpu', (128, 128), 1, 16), ('cpu', (128, 128), 4, 4)]
    + [('cuda', (512, 512), 1, 8), ('cuda', (128, 128), 1, 8), ('meta', (64, 64), 2, 8)],
)
def test_auto_window_batch_depends_on_the_device_and_the_window(device, window, images, expected):
    model = build(test_cfg=dict(mode='slide', crop_size=4))
    assert model._window_batch(torch.device(device), window, images) == expected
    fixed = build(test_cfg=dict(mode='slide', crop_size=4, window_batch=3))
    assert fixed._window_batch(torch.device(device), window, images) == 3


def test_slide_windows_are_batched():
    model = build(test_cfg=dict(mode='slide', crop_size=4, stride=2, window_batch=4))
    batch_sizes = []
    model.backbone.register_forward_hook(lambda module, args, out: batch_sizes.append(args[0].shape[0]))
    model.inference(torch.rand(2, 3, 8, 8), [{}, {}])  # a 3x3 grid of windows for 2 images
    assert batch_sizes == [8, 8, 2]


@pytest.mark.parametrize(
    'test_cfg, match',
    [
        (dict(mode='bogus'), "'bogus'"),
        (dict(mode='slide'), 'crop_size'),
        (dict(mode='slide', crop_size=4, stride=0), 'stride=0'),
        (dict(mode='slide', crop_size=4, window_batch=0), 'window_batch=0'),
        (dict(window_batch='max'), "window_batch='max'"),
        (dict(tta=dict(batch_flip=True)), 'window_batch'),
        (dict(tta=dict(scale=[1.0])), 'scale'),
        (dict(tta=dict(scales=[])), 'scales'),
    ],
)
def test_bad_test_cfg(test_cfg, match):
    with pytest.raises(ValueError, match=match):
        build(test_cfg=test_cfg)


def test_decode_head_in_channels_mismatch_names_key():
    with pytest.raises(ValueError, match=r'decode_head\.in_channels=5 .*set decode_head\.in_channels=6'):
        build(decode_head=head_cfg(5))


def test_auxiliary_head_in_channels_mismatch_names_key():
    with pytest.raises(ValueError, match=r'auxiliary_head\[1\]\.in_channels=5 .*in_channels=4'):
        build(auxiliary_head=[head_cfg(4, in_index=0), head_cfg(5, in_index=0)])


def test_neck_in_channels_checked_and_heads_checked_against_neck():
    with pytest.raises(ValueError, match=r'neck\.in_channels=\[4, 5\].*\[4, 6\]'):
        build(neck=dict(type='_SegToyNeck', in_channels=[4, 5]))
    with pytest.raises(ValueError, match=r'the neck.*decode_head\.in_channels=5'):
        build(neck=dict(type='_SegToyNeck', in_channels=[4, 6], out_channels=5))
    model = build(neck=dict(type='_SegToyNeck', in_channels=[4, 6], out_channels=6))
    assert model.with_neck
    assert model(torch.rand(1, 3, 4, 4), mode='tensor').shape == (1, NUM_CLASSES, 4, 4)


def test_misspelt_constructor_key_raises_type_error():
    with pytest.raises(TypeError, match='auxilary_head'):
        MODELS.build(model_cfg(auxilary_head=head_cfg()))


def test_pretrained_becomes_backbone_init_cfg():
    model = MODELS.build(model_cfg(pretrained='ckpt.pth'))
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint='ckpt.pth')
    with pytest.raises(ValueError, match='backbone.init_cfg'):
        MODELS.build(model_cfg(pretrained='a.pth', backbone=dict(type='_SegToyBackbone', init_cfg=dict(type='X'))))


def test_data_preprocessor_config_and_test_step():
    model = build(data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[255, 255, 255]))
    assert isinstance(model.data_preprocessor, SegDataPreProcessor)
    data = dict(inputs=[torch.randint(0, 256, (3, 5, 6), dtype=torch.uint8)], data_samples=[sample((5, 6))])
    results = model.test_step(data)
    assert results[0].pred_sem_seg.data.shape == (1, 5, 6)


@pytest.mark.parametrize('mode', [dict(mode='whole'), dict(mode='slide', crop_size=4)])
def test_batch_of_different_sizes_predicts_like_single_images(mode):
    model = build(test_cfg=mode)  # default preprocessor: pads the batch to its largest image
    shapes = [(5, 7), (6, 4)]
    images = [torch.randint(0, 256, (3, *shape), dtype=torch.uint8) for shape in shapes]
    batched = model.test_step(dict(inputs=images, data_samples=[sample(shape) for shape in shapes]))
    assert len(batched) == len(shapes) > 0
    for img, shape, result in zip(images, shapes, batched, strict=True):
        alone = model.test_step(dict(inputs=[img], data_samples=[sample(shape)]))[0]
        assert result.seg_logits.data.shape == (NUM_CLASSES, *shape)
        torch.testing.assert_close(result.seg_logits.data, alone.seg_logits.data)
