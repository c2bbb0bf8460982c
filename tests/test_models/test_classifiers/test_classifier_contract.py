"""Contract of every registered classification head and pooling neck, inside an ImageClassifier.

Driven by the registry: each head registered from ``segtools.models.classifiers.heads`` is
built from ``num_classes`` and ``in_channels`` alone (plus the pooling neck when it takes
pooled vectors) on a tiny ResNet, trained one step on CPU with each loss, with hard labels
and with Mixup/CutMix soft targets, and run in predict mode.
"""

import inspect

import pytest
import torch
from mmengine.registry import DefaultScope

import segtools.models  # noqa: F401  (registration)
from segtools.models.classifiers import BaseClsHead
from segtools.registry import MODELS
from segtools.structures import ClsDataSample

NUM_CLASSES = 3
TINY = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, norm_cfg=dict(type='BN'), out_indices=(3,))
TINY_CHANNELS = 64
LOSSES = [
    dict(type='CrossEntropyLoss'),
    dict(type='LabelSmoothingCrossEntropyLoss', smoothing=0.1),
    dict(type='SoftTargetCrossEntropyLoss'),
]
AUGMENTS = {'labels': [], 'mixup': [dict(type='Mixup', alpha=0.2)], 'cutmix': [dict(type='CutMix', alpha=1.0)]}


def _registered_heads() -> list[str]:
    names = sorted(
        name
        for name, cls in MODELS.module_dict.items()
        if inspect.isclass(cls) and issubclass(cls, BaseClsHead) and not inspect.isabstract(cls)
    )
    assert names, 'no classification head is registered'
    return names


def _pooling_necks() -> list[str]:
    names = sorted(
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('segtools.models.necks') and getattr(cls, 'out_strides', ()) is None
    )
    assert names, 'no pooling neck is registered'
    return names


HEADS = _registered_heads()
POOLING_NECKS = _pooling_necks()


def test_the_heads_are_found():
    assert {'LinearClsHead', 'DeepTENHead'} <= set(HEADS)
    assert 'GlobalAveragePooling' in POOLING_NECKS


def build(head: str, loss: dict, augments: list[dict], neck: str = POOLING_NECKS[0]) -> torch.nn.Module:
    takes_pooled = MODELS.get(head).takes_pooled
    cfg = dict(
        type='ImageClassifier',
        backbone=TINY,
        neck=dict(type=neck) if takes_pooled else None,
        head=dict(type=head, num_classes=NUM_CLASSES, in_channels=TINY_CHANNELS, loss=loss),
        data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True, batch_augments=augments),
    )
    with DefaultScope.overwrite_default_scope('segtools'):
        return MODELS.build(cfg)


def batch(n: int = 4) -> dict:
    gen = torch.Generator().manual_seed(0)
    samples = []
    for i in range(n):
        sample = ClsDataSample(metainfo=dict(img_path=f'{i}.png'))
        sample.gt_label = i % NUM_CLASSES
        samples.append(sample)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=gen) for _ in range(n)]
    return dict(inputs=images, data_samples=samples)


def check_train_step(model: torch.nn.Module, soft: bool) -> None:
    torch.manual_seed(0)
    model.train()
    data = model.data_preprocessor(batch(), training=True)
    assert all(('gt_score' in s) == soft for s in data['data_samples'])
    losses = model(**data, mode='loss')
    loss_keys = [key for key in losses if 'loss' in key]
    assert len(loss_keys) == 1 and (soft or 'acc_top1' in losses)
    total = losses[loss_keys[0]]
    assert total.dim() == 0 and torch.isfinite(total)
    total.backward()
    backbone_grads = [p.grad for p in model.backbone.parameters() if p.grad is not None]
    assert backbone_grads and all(torch.isfinite(g).all() for g in backbone_grads)
    assert sum(g.abs().sum() for g in backbone_grads) > 0
    head_grads = [p.grad for p in model.head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in head_grads)


def check_predict(model: torch.nn.Module) -> None:
    model.eval()
    with torch.no_grad():
        out = model.test_step(batch())
    assert len(out) == 4
    for sample in out:
        assert sample.pred_score.shape == (NUM_CLASSES,)
        torch.testing.assert_close(sample.pred_score.sum(), torch.tensor(1.0))
        assert sample.pred_label.tolist() == [int(sample.pred_score.argmax())]


@pytest.mark.parametrize('augment', sorted(AUGMENTS))
@pytest.mark.parametrize('loss', LOSSES, ids=[loss['type'] for loss in LOSSES])
@pytest.mark.parametrize('head', HEADS)
def test_head_trains_and_predicts(head, loss, augment):
    model = build(head, loss, AUGMENTS[augment])
    check_train_step(model, soft=augment != 'labels')
    check_predict(model)


@pytest.mark.parametrize('neck', POOLING_NECKS)
def test_pooling_neck_feeds_every_pooled_head(neck):
    pooled = [head for head in HEADS if MODELS.get(head).takes_pooled]
    assert pooled
    for head in pooled:
        model = build(head, LOSSES[0], [], neck=neck)
        check_train_step(model, soft=False)
        check_predict(model)
