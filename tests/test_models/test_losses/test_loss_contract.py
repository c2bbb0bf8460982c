"""Contract of every registered loss: builds from its type alone, returns a finite scalar,
backpropagates without NaN through a label containing ``ignore_index``, and names its key."""

import pytest
import torch
from mmengine.registry import DefaultScope

import segtools.models.losses.cross_entropy_loss
import segtools.models.losses.dice_loss
import segtools.models.losses.label_smoothing_cross_entropy_loss
import segtools.models.losses.lovasz_loss
import segtools.models.losses.ohem_cross_entropy_loss
import segtools.models.losses.se_loss
import segtools.models.losses.soft_target_cross_entropy_loss  # noqa: F401  (the imports register the losses)
from segtools.registry import MODELS

LOSS_NAMES = sorted(
    name for name, cls in MODELS.module_dict.items() if cls.__module__.startswith('segtools.models.losses.')
)
# Losses whose input is not pixel logits: they get what their callers give them.
IMAGE_LEVEL = {'SELoss'}


def test_losses_are_registered():
    expected = {
        'CrossEntropyLoss',
        'DiceLoss',
        'LabelSmoothingCrossEntropyLoss',
        'LovaszLoss',
        'OhemCrossEntropyLoss',
        'SELoss',
        'SoftTargetCrossEntropyLoss',
    }
    assert len(LOSS_NAMES) > 0
    assert expected <= set(LOSS_NAMES)


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_builds_and_backpropagates(name):
    with DefaultScope.overwrite_default_scope('segtools'):
        loss_module = MODELS.build(dict(type=name))
    assert loss_module.loss_name.startswith('loss_')
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 4, 8, 8, generator=generator, requires_grad=True)
    target = torch.randint(0, 4, (2, 8, 8), generator=generator)
    target[0, :3] = 255
    target[1, :, 5:] = 255
    inputs = pred.mean(dim=(2, 3)) if name in IMAGE_LEVEL else pred
    loss = loss_module(inputs, target, ignore_index=255)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_misspelt_key_raises_type_error(name):
    with DefaultScope.overwrite_default_scope('segtools'), pytest.raises(TypeError, match='loss_wieght'):
        MODELS.build(dict(type=name, loss_wieght=1.0))
