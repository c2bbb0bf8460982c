"""A backbone trained in a classification config initialises the same backbone in a segmentation config."""

import torch
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint_with_prefix

from segtools.registry import MODELS
from segtools.weights import setup_safe_checkpointing

BACKBONE = dict(type='ResNetV1c', depth=18, stem_channels=16, base_channels=8, norm_cfg=dict(type='BN'))


def test_classifier_checkpoint_initialises_a_segmentor_backbone(tmp_path):
    setup_safe_checkpointing()
    with DefaultScope.overwrite_default_scope('segtools'):
        classifier = MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(BACKBONE, out_indices=(3,)),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=5, in_channels=64),
            )
        )
        with torch.no_grad():  # weights no initialisation would produce
            for value in classifier.state_dict().values():
                if value.is_floating_point():
                    value.add_(torch.randn_like(value))
        path = tmp_path / 'classifier_iter_10.pth'
        torch.save({'state_dict': classifier.state_dict(), 'meta': {'iter': 10}}, path)

        # What a user writes in the segmentation config: the classifier's checkpoint, its backbone.* part.
        init_cfg = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
        segmentor = MODELS.build(
            dict(
                type='EncoderDecoder',
                backbone=dict(BACKBONE, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), init_cfg=init_cfg),
                decode_head=dict(type='FCNHead', in_channels=64, in_index=3, channels=8, num_classes=3),
            )
        )
    # Exactly the same keys: nothing missing, nothing unexpected (dilation does not change the keys).
    extracted = _load_checkpoint_with_prefix('backbone.', str(path))
    assert extracted.keys() == segmentor.backbone.state_dict().keys()
    segmentor.init_weights()
    for key, value in segmentor.backbone.state_dict().items():
        torch.testing.assert_close(value, classifier.backbone.state_dict()[key], rtol=0, atol=0, msg=key)
