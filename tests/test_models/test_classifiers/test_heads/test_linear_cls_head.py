"""LinearClsHead: dropout + fc on pooled vectors."""

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.classifiers import LinearClsHead
from segtools.registry import MODELS


def test_forward_is_the_linear_layer_on_the_selected_vector():
    head = LinearClsHead(num_classes=3, in_channels=4, in_index=0)
    feats = (torch.randn(2, 4), torch.randn(2, 9))
    torch.testing.assert_close(head(feats), head.fc(feats[0]))
    assert head(feats[0]).shape == (2, 3)


def test_final_drop_is_dropout_in_training_only():
    head = LinearClsHead(num_classes=3, in_channels=64, final_drop=0.5)
    x = torch.ones(4, 64)
    head.eval()
    torch.testing.assert_close(head(x), head.fc(x))
    head.train()
    torch.manual_seed(0)
    assert not torch.allclose(head(x), head.fc(x))


def test_refuses_feature_maps():
    with pytest.raises(ValueError, match='takes pooled.*GlobalAveragePooling'):
        LinearClsHead(num_classes=3, in_channels=4)(torch.randn(2, 4, 3, 3))


def test_default_init_is_normal_with_small_std():
    torch.manual_seed(0)
    head = LinearClsHead(num_classes=100, in_channels=512)
    head.init_weights()
    assert abs(head.fc.weight.std().item() - 0.01) < 1e-3


def test_registered_and_misspelt_keys_raise():
    with DefaultScope.overwrite_default_scope('segtools'):
        assert isinstance(MODELS.build(dict(type='LinearClsHead', num_classes=2, in_channels=3)), LinearClsHead)
        with pytest.raises(TypeError, match='final_dropout'):
            MODELS.build(dict(type='LinearClsHead', num_classes=2, in_channels=3, final_dropout=0.1))
