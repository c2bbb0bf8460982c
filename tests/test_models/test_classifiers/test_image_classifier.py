"""ImageClassifier: forward modes, build-time checks that name the config key, preprocessor defaults."""

import pytest
import torch
from mmengine.registry import DefaultScope

import segtools.models  # noqa: F401  (registration)
from segtools.models.classifiers import ImageClassifier
from segtools.registry import MODELS
from segtools.structures import ClsDataSample

BN = dict(type='BN')
TINY = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, norm_cfg=BN, out_indices=(3,))
GAP = dict(type='GlobalAveragePooling')
LINEAR = dict(type='LinearClsHead', num_classes=3, in_channels=64)


def build(**kwargs) -> ImageClassifier:
    cfg = dict(type='ImageClassifier', backbone=TINY, neck=GAP, head=LINEAR)
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('segtools'):
        return MODELS.build(cfg)


def labelled(n: int) -> list[ClsDataSample]:
    out = []
    for i in range(n):
        sample = ClsDataSample(metainfo=dict(img_path=f'{i}.png'))
        sample.gt_label = i % 3
        out.append(sample)
    return out


def test_forward_modes():
    model = build()
    inputs = torch.randn(2, 3, 32, 32)
    feats = model.extract_feat(inputs)
    assert isinstance(feats, tuple) and feats[0].shape == (2, 64)
    assert model(inputs).shape == (2, 3)
    losses = model(inputs, labelled(2), mode='loss')
    assert set(losses) == {'loss_ce', 'acc_top1'} and torch.isfinite(losses['loss_ce'])
    model.eval()
    with torch.no_grad():
        out = model(inputs, labelled(2), mode='predict')
    assert [int(s.gt_label) for s in out] == [0, 1] and out[0].pred_score.shape == (3,)
    with pytest.raises(ValueError, match="unknown forward mode 'losses'"):
        model(inputs, mode='losses')


def test_val_step_on_a_packed_batch():
    # What mmengine's ValLoop calls: the preprocessor, then predict.
    model = build(data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True)).eval()
    data = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)], data_samples=labelled(2)
    )
    out = model.val_step(data)
    assert len(out) == 2 and all(abs(float(s.pred_score.sum()) - 1) < 1e-6 for s in out)


def test_defaults_fill_the_preprocessor_and_the_neck():
    model = build(data_preprocessor=dict(num_classes=None, batch_augments=[dict(type='CutMix', alpha=1.0)]))
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreProcessor'
    assert model.data_preprocessor.num_classes == 3
    assert model.neck.in_channels == (64,) and model.num_classes == 3
    assert type(build(data_preprocessor=None).data_preprocessor).__name__ == 'ClsDataPreProcessor'


def test_deep_ten_head_reads_the_backbone_map():
    model = build(neck=None, head=dict(type='DeepTENHead', num_classes=3, in_channels=64, channels=8, num_codes=4))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(head=dict(LINEAR, in_channels=32)), r'head.in_channels=32 does not match the neck.*in_channels=64'),
        (dict(neck=dict(GAP, in_channels=[32])), r'neck.in_channels=\[32\] does not match the backbone'),
        (dict(neck=None), r"head=LinearClsHead takes pooled.*neck=dict\(type='GlobalAveragePooling'\)"),
        (
            dict(head=dict(type='DeepTENHead', num_classes=3, in_channels=64)),
            'head=DeepTENHead reads feature maps.*drop the neck',
        ),
        (dict(backbone=dict(TINY, num_classes=10)), 'backbone.num_classes=10 .* set backbone.num_classes=0'),
        (
            dict(data_preprocessor=dict(num_classes=5)),
            'data_preprocessor.num_classes=5 does not match head.num_classes=3',
        ),
        (
            dict(
                data_preprocessor=dict(batch_augments=[dict(type='Mixup', alpha=0.2)]),
                head=dict(LINEAR, loss=dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0, 1.0])),
            ),
            'head.loss: data_preprocessor.batch_augments make soft targets.*cannot take',
        ),
        (dict(head=None), 'head is required'),
    ],
)
def test_build_time_checks_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


def test_misspelt_key_raises_type_error():
    with pytest.raises(TypeError, match='nek'):
        build(nek=GAP)


def test_pretrained_becomes_the_backbone_init_cfg():
    model = build(pretrained='segtools://resnet18')
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint='segtools://resnet18')
    with pytest.raises(ValueError, match='so is backbone.init_cfg'):
        build(pretrained='a.pth', backbone=dict(TINY, init_cfg=dict(type='Pretrained', checkpoint='b.pth')))


@pytest.mark.parametrize(
    'backbone',
    [
        dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=16, norm_cfg=BN, out_indices=(3,)),
        dict(type='ResNeSt', depth=50, base_channels=8, stem_channels=16, norm_cfg=BN, out_indices=(3,)),
        dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, norm_cfg=BN),  # all four stages
    ],
)
def test_resnet_family_backbones(backbone):
    channels = 64 if backbone['depth'] == 18 else 256
    model = build(backbone=backbone, head=dict(LINEAR, in_channels=channels))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_builds_on_the_meta_device():
    # How tests/test_configs builds every config's model.
    with torch.device('meta'):
        model = build(
            head=dict(type='DeepTENHead', num_classes=23, in_channels=64),
            neck=None,
            data_preprocessor=dict(mean=[0.0] * 3, std=[1.0] * 3, batch_augments=[dict(type='Mixup', alpha=0.2)]),
        )
    assert model.head.fc.weight.is_meta
