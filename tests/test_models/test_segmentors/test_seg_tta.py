"""Tests of test-time augmentation: probability fusion, tensor multi-scale + flip, SegTTAModel."""

import copy

import pytest
import torch
from mmengine.model import BaseModule, BaseTTAModel
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from torch import nn

import segtools.models.losses.cross_entropy_loss  # noqa: F401  (registers CrossEntropyLoss)
from segtools.models.data_preprocessor import SegDataPreProcessor
from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.models.segmentors.encoder_decoder import EncoderDecoder
from segtools.models.segmentors.seg_tta import SegTTAModel, fuse_probabilities
from segtools.models.utils import resize
from segtools.structures import SegDataSample


class _Backbone(BaseModule):
    def __init__(self) -> None:
        super().__init__()
        self.out_channels = (4,)
        self.out_strides = (1,)
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.conv(x),)


class _RampHead(BaseDecodeHead):
    """Pointwise logits plus a left-to-right ramp on class 0: not flip-equivariant."""

    def __init__(self, num_classes: int = 3, **kwargs) -> None:
        super().__init__(4, 4, num_classes=num_classes, dropout_ratio=0, **kwargs)
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, inputs: tuple) -> torch.Tensor:
        logits = self.cls_seg(self.conv(self._transform_inputs(inputs)))
        ramp = torch.linspace(-3, 3, logits.shape[-1])
        return torch.cat([logits[:, :1] + ramp, logits[:, 1:]], dim=1)


def segmentor(test_cfg: dict | None = None, **head_kwargs) -> EncoderDecoder:
    torch.manual_seed(0)
    model = EncoderDecoder(
        backbone=_Backbone(),
        decode_head=_RampHead(**head_kwargs),
        test_cfg=test_cfg,
        data_preprocessor=SegDataPreProcessor(),
    )
    return model.eval()


@pytest.fixture(autouse=True)
def segtools_scope():
    with DefaultScope.overwrite_default_scope('segtools'):
        yield


@pytest.mark.parametrize('channels', [1, 3])
def test_fuse_probabilities_averages_probabilities(channels):
    views = [torch.randn(2, channels, 3, 4) * 3 for _ in range(3)]
    fused = fuse_probabilities(views)
    if channels == 1:
        torch.testing.assert_close(fused.sigmoid(), torch.stack([v.sigmoid() for v in views]).mean(0))
    else:
        torch.testing.assert_close(fused.softmax(1), torch.stack([v.softmax(1) for v in views]).mean(0))
    with pytest.raises(ValueError, match='at least one'):
        fuse_probabilities([])


@pytest.mark.parametrize('window_batch', [1, 8])
@pytest.mark.parametrize('mode', [dict(mode='whole'), dict(mode='slide', crop_size=5, stride=3)])
def test_tensor_multi_scale_flip_matches_manual_fusion(window_batch, mode):
    plain = segmentor(dict(mode, window_batch=1))
    tta = segmentor(dict(mode, window_batch=window_batch, tta=dict(scales=[0.5, 1.0], flip=True)))
    x = torch.rand(2, 3, 8, 10)
    metas = [{}, {}]

    def infer(inputs):
        return plain.inference(inputs, metas)

    with torch.no_grad():
        # The model is not flip-equivariant, so a missing un-flip would be caught.
        assert not torch.allclose(infer(x.flip(-1)).flip(-1), infer(x))
        views = []
        for size in [(4, 5), (8, 10)]:
            scaled = resize(x, size)
            views += [resize(infer(scaled), (8, 10)), resize(infer(scaled.flip(-1)).flip(-1), (8, 10))]
        torch.testing.assert_close(tta.inference(x, metas), fuse_probabilities(views))


@pytest.mark.parametrize('mode', [dict(mode='whole'), dict(mode='slide', crop_size=5, stride=3)])
def test_tensor_tta_batches_windows_of_all_views(mode):
    """6 scales x flip in chunks of 8 windows equal the one-window-at-a-time loop."""
    loop = segmentor(dict(mode, window_batch=1, tta=dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], flip=True)))
    batched = segmentor(dict(loop.test_cfg, window_batch=8))
    sizes = []
    batched.backbone.register_forward_hook(lambda module, args, out: sizes.append(tuple(args[0].shape)))
    x, metas = torch.rand(1, 3, 8, 10), [{}]
    with torch.no_grad():
        expected, fused = loop.inference(x, metas), batched.inference(x, metas)
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-6)
    assert torch.equal(fused.argmax(1), expected.argmax(1))
    if mode['mode'] == 'slide':  # every window is 5x5: chunks span views
        assert [s[0] for s in sizes][:2] == [8, 8] and {s[2:] for s in sizes} == {(5, 5)}
    else:  # whole views differ in size by scale: a scale and its flip share a forward
        assert [s[0] for s in sizes] == [2] * 6


def view_sample(image: torch.Tensor, flip: bool, ori_shape: tuple[int, int] | None = None) -> SegDataSample:
    shape = ori_shape or tuple(image.shape[-2:])
    sample = SegDataSample(metainfo=dict(ori_shape=shape, img_path='a.png', flip=flip, flip_direction='horizontal'))
    sample.gt_sem_seg = PixelData(data=torch.ones(1, *shape, dtype=torch.long))
    return sample


@pytest.mark.parametrize('head_kwargs', [dict(), dict(num_classes=2, out_channels=1, threshold=0.4)])
def test_seg_tta_model_fuses_unflipped_views(head_kwargs):
    model = segmentor(**head_kwargs)
    images = [torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8), torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8)]
    data = dict(
        inputs=[images, [img.flip(-1) for img in images]],
        data_samples=[[view_sample(img, False) for img in images], [view_sample(img, True) for img in images]],
    )
    with torch.no_grad():
        merged = SegTTAModel(model).test_step(data)
        assert len(merged) == len(images) > 0
        per_view = [
            model.test_step(dict(inputs=data['inputs'][v], data_samples=data['data_samples'][v])) for v in (0, 1)
        ]
        for i, result in enumerate(merged):
            views = [per_view[0][i], per_view[1][i]]
            assert not torch.allclose(views[0].seg_logits.data, views[1].seg_logits.data)
            expected = fuse_probabilities([view.seg_logits.data for view in views])
            torch.testing.assert_close(result.seg_logits.data, expected)
            if expected.shape[0] == 1:
                assert torch.equal(result.pred_sem_seg.data, (expected.sigmoid() > 0.4).long())
            else:
                assert torch.equal(result.pred_sem_seg.data, expected.argmax(0, keepdim=True))
            assert result.img_path == 'a.png' and 'flip' not in result.metainfo
            assert torch.equal(result.gt_sem_seg.data, torch.ones(1, 6, 7, dtype=torch.long))


@pytest.mark.parametrize('mode', [dict(mode='whole'), dict(mode='slide', crop_size=4, stride=3)])
def test_seg_tta_model_batches_views_as_the_view_by_view_loop(mode):
    """Views of the pipeline (two sizes x flip) with windows batched equal mmengine's per-view loop."""
    model = segmentor(dict(mode, window_batch=3))
    images = [[torch.randint(0, 256, (3, *size), dtype=torch.uint8)] for size in [(6, 7), (9, 11)]]
    inputs, samples = [], []
    for imgs in images:
        for flip in (False, True):
            inputs.append([img.flip(-1) if flip else img for img in imgs])
            samples.append([view_sample(img, flip, ori_shape=(6, 7)) for img in imgs])
    data = dict(inputs=inputs, data_samples=samples)
    batch_sizes = []
    model.backbone.register_forward_hook(lambda module, args, out: batch_sizes.append(args[0].shape[0]))
    tta = SegTTAModel(model)
    with torch.no_grad():
        batched = tta.test_step(copy.deepcopy(data))
        forwards = len(batch_sizes)
        loop = BaseTTAModel.test_step(tta, copy.deepcopy(data))
    if mode['mode'] == 'slide':  # 4 + 4 + 12 + 12 windows of 4x4 in chunks of 3, across views
        assert batch_sizes[:forwards] == [3] * 10 + [2] and len(batch_sizes) - forwards == 12
    else:  # a view and its flip have one size: one forward
        assert batch_sizes[:forwards] == [2, 2] and len(batch_sizes) - forwards == 4
    for fused, expected in zip(batched, loop, strict=True):
        torch.testing.assert_close(fused.seg_logits.data, expected.seg_logits.data, rtol=0, atol=1e-6)
        assert torch.equal(fused.pred_sem_seg.data, expected.pred_sem_seg.data)


def test_seg_tta_model_builds_from_config_and_rejects_mismatched_views():
    tta = SegTTAModel(dict(type='EncoderDecoder', backbone=_Backbone(), decode_head=_RampHead()))
    assert isinstance(tta.module, EncoderDecoder)
    small, large = SegDataSample(), SegDataSample()
    small.seg_logits = PixelData(data=torch.zeros(3, 2, 2))
    large.seg_logits = PixelData(data=torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match='different sizes'):
        tta.merge_preds([[small, large]])
