"""Contract of the whole zoo: every registered backbone and neck, inside an EncoderDecoder.

Each is built from a minimal config, trained one loss step and run in predict mode on a
2x3x64x64 batch on CPU: output shapes, loss keys and finite gradients. Every registered
backbone and neck must have a minimal config here, so a new one cannot slip past untested.
The heads have their own contract test (``test_decode_heads/test_heads_contract.py``).
"""

import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

import segtools.models  # noqa: F401  (registration)
from segtools.registry import MODELS
from segtools.structures import SegDataSample

NUM_CLASSES = 3
BN = dict(type='BN')
RESNET_TINY = dict(depth=18, base_channels=8, stem_channels=8, norm_cfg=BN)
WIDE_NARROW = ((4, 4), (8, 8), (8, 8), (8, 16), (8, 16, 32), (16, 32, 64))

MINIMAL_BACKBONES = {
    'ResNet': RESNET_TINY,
    'ResNetV1c': dict(depth=18, base_channels=8, stem_channels=16, norm_cfg=BN),
    'ResNetV1d': dict(depth=18, base_channels=8, stem_channels=16, norm_cfg=BN),
    'ResNeXt': dict(depth=50, groups=2, base_width=16, base_channels=8, stem_channels=8, norm_cfg=BN),
    'ResNeSt': dict(depth=50, base_channels=8, stem_channels=16, norm_cfg=BN),
    'WideResNet': dict(depth=38, stem_channels=4, stage_channels=WIDE_NARROW),
    'Xception65': dict(output_stride=16, norm_cfg=BN),
}
# Necks on RESNET_TINY at output stride 8 (out_channels 8, 16, 32, 64).
MINIMAL_NECKS = {
    'FPN': dict(in_channels=[8, 16, 32, 64], out_channels=8, num_outs=4),
    'JPU': dict(in_channels=[8, 16, 32, 64], channels=4),
}


def registered(package: str) -> list[str]:
    names = sorted(name for name, cls in MODELS.module_dict.items() if cls.__module__.startswith(package))
    assert names, f'nothing registered from {package}'
    return names


BACKBONES = registered('segtools.models.backbones')
# Necks that pool into vectors (class-level out_strides=None: GlobalAveragePooling) feed
# classification heads; test_classifiers/test_classifier_contract.py covers them.
NECKS = [
    name for name in registered('segtools.models.necks') if getattr(MODELS.get(name), 'out_strides', ()) is not None
]


def test_every_backbone_and_neck_has_a_minimal_config():
    assert set(BACKBONES) == set(MINIMAL_BACKBONES)
    assert set(NECKS) == set(MINIMAL_NECKS)


def samples(n: int = 2, size: int = 64) -> list[SegDataSample]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size)))
        label = torch.randint(0, NUM_CLASSES, (1, size, size), generator=gen)
        label[:, :3] = 255
        sample.gt_sem_seg = PixelData(data=label)
        out.append(sample)
    return out


def fcn_head(in_channels: int, in_index: int) -> dict:
    return dict(
        type='FCNHead',
        in_channels=in_channels,
        in_index=in_index,
        channels=4,
        num_convs=1,
        num_classes=NUM_CLASSES,
        norm_cfg=BN,
    )


def build_segmentor(backbone: dict, neck: dict | None = None) -> torch.nn.Module:
    """EncoderDecoder with FCN heads sized from the modules' declared out_channels."""
    with DefaultScope.overwrite_default_scope('segtools'):
        features = MODELS.build(backbone)
        if neck is not None:
            features = MODELS.build(dict(neck, in_strides=features.out_strides))
        channels = features.out_channels
        return MODELS.build(
            dict(
                type='EncoderDecoder',
                backbone=backbone,
                neck=neck,
                decode_head=fcn_head(channels[-1], len(channels) - 1),
                auxiliary_head=fcn_head(channels[0], 0),
            )
        )


def check_train_and_predict(model: torch.nn.Module) -> None:
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 64, 64)
    model.train()
    losses = model(inputs, samples(), mode='loss')
    assert {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg'} <= set(losses)
    total = sum(value for key, value in losses.items() if 'loss' in key)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) > 0 and all(torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        results = model(inputs, samples(), mode='predict')
    assert len(results) == 2
    for result in results:
        assert result.seg_logits.data.shape == (NUM_CLASSES, 64, 64)
        assert result.pred_sem_seg.data.shape == (1, 64, 64)
        assert int(result.pred_sem_seg.data.max()) < NUM_CLASSES


@pytest.mark.parametrize('name', BACKBONES)
def test_backbone_in_encoder_decoder(name):
    backbone = dict(MINIMAL_BACKBONES[name], type=name)
    model = build_segmentor(backbone)
    strides = model.backbone.out_strides
    assert len(strides) == len(model.backbone.out_channels) > 0
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 64))
    for feat, channels, stride in zip(feats, model.backbone.out_channels, strides, strict=True):
        assert feat.shape[1] == channels
        assert feat.shape[-1] == math.ceil(64 / stride), (name, feat.shape, stride)
    check_train_and_predict(model)


@pytest.mark.parametrize('name', NECKS)
def test_neck_in_encoder_decoder(name):
    backbone = dict(RESNET_TINY, type='ResNet', strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    model = build_segmentor(backbone, dict(MINIMAL_NECKS[name], type=name))
    # The segmentor passes the dilated backbone's strides (4, 8, 8, 8) to the neck.
    assert tuple(model.neck.out_strides[:2]) == (4, 8)
    check_train_and_predict(model)


OUTPUT_STRIDES = {
    8: (dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)), (4, 8, 8, 8)),
    16: (dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)), (4, 8, 16, 16)),
    32: (dict(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)), (4, 8, 16, 32)),
}
RESNET_FAMILY = ['ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt', 'ResNeSt']


@pytest.mark.parametrize('output_stride', sorted(OUTPUT_STRIDES))
@pytest.mark.parametrize('name', RESNET_FAMILY)
def test_resnet_family_output_strides(name, output_stride):
    assert set(RESNET_FAMILY) <= set(BACKBONES)
    settings, strides = OUTPUT_STRIDES[output_stride]
    with DefaultScope.overwrite_default_scope('segtools'):
        backbone = MODELS.build(dict(MINIMAL_BACKBONES[name], type=name, **settings)).eval()
    assert tuple(backbone.out_strides) == strides
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [64 // s for s in strides]
    assert [f.shape[1] for f in feats] == list(backbone.out_channels)
