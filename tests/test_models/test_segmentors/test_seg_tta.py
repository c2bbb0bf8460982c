"""Tests of test-time augmentation: probability fusion, tensor multi-scale + flip, SegTTAModel."""

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


@pytest.mark.parametrize('batch_flip', [True, False])
@pytest.mark.parametrize('mode', [dict(mode='whole'), dict(mode='slide', crop_size=5, stride=3)])
def test_tensor_multi_scale_flip_matches_manual_fusion(batch_flip, mode):
    plain = segmentor(mode)
    tta = segmentor(dict(mode, tta=dict(scales=[0.5, 1.0], flip=True, batch_flip=batch_flip)))
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


def view_sample(image: torch.Tensor, flip: bool) -> SegDataSample:
    shape = tuple(image.shape[-2:])
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


def test_seg_tta_model_builds_from_config_and_rejects_mismatched_views():
    tta = SegTTAModel(dict(type='EncoderDecoder', backbone=_Backbone(), decode_head=_RampHead()))
    assert isinstance(tta.module, EncoderDecoder)
    small, large = SegDataSample(), SegDataSample()
    small.seg_logits = PixelData(data=torch.zeros(3, 2, 2))
    large.seg_logits = PixelData(data=torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match='different sizes'):
        tta.merge_preds([[small, large]])
