"""Contract of every head registered by this package's head modules: build from a minimal
config, logits of the selected level, finite gradients, loss keys, prediction size, typo."""

import importlib
import inspect

import pytest
import torch

from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.registry import MODELS

HEAD_MODULES = (
    'fcn_head',
    'psp_head',
    'sep_aspp_head',
    'enc_head',
    'aspp_head',
    'uper_head',
    'fcfpn_head',
    'da_head',
    'dran_head',
    'atten_head',
)
ALL_LEVELS = dict(in_channels=[4, 8, 12, 16], in_index=[0, 1, 2, 3])
# Minimal config and the index of the level whose size the logits have (see conftest.LEVELS).
MINIMAL = {
    'FCNHead': (dict(in_channels=16, channels=8), 3),
    'PSPHead': (dict(in_channels=16, channels=4), 3),
    'EncHead': (dict(in_channels=[8, 12, 16], in_index=[1, 2, 3], channels=8, num_codes=4), 3),
    'ASPPHead': (dict(in_channels=16, channels=4, dilations=(1, 2, 3)), 3),
    'DepthwiseSeparableASPPHead': (
        dict(in_channels=16, in_index=3, channels=4, c1_in_channels=4, c1_channels=2, dilations=(1, 2, 3)),
        0,
    ),
    'UPerHead': (dict(ALL_LEVELS, channels=8), 0),
    'FCFPNHead': (dict(ALL_LEVELS, channels=8, fpn_channels=4), 0),
    'DAHead': (dict(in_channels=16, channels=8), 3),
    'DRANHead': (dict(in_channels=[4, 16], in_index=[0, 3], channels=8, inter_channels=16, clgd_channels=4), 0),
    'ATTENHead': (dict(in_channels=16, channels=16, num_heads=2, num_codes=4), 3),
}
EXTRA_LOSS_KEYS = {
    'EncHead': {'loss_se'},
    'DAHead': {'pam.loss_ce', 'pam.acc_seg', 'cam.loss_ce', 'cam.acc_seg'},
}


def registered_heads() -> list[str]:
    """Names of the heads that the modules of HEAD_MODULES register."""
    names = []
    for module_name in HEAD_MODULES:
        module = importlib.import_module(f'segtools.models.decode_heads.{module_name}')
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and issubclass(obj, BaseDecodeHead):
                assert MODELS.get(name) is obj, f'{name} is not registered in MODELS'
                names.append(name)
    return names


HEADS = registered_heads()


def test_every_head_is_covered():
    assert len(HEADS) == len(HEAD_MODULES), HEADS
    assert set(HEADS) == set(MINIMAL)


@pytest.mark.parametrize('name', HEADS)
def test_forward_backward_and_predict(name, feats, build_head):
    cfg, level = MINIMAL[name]
    head = build_head(dict(cfg, type=name))
    feats = [f.requires_grad_() for f in feats]
    logits = head(feats)
    side = feats[level].shape[-1]
    assert logits.shape == (2, 3, side, side)
    logits.square().mean().backward()
    grads = [p.grad for p in head.parameters() if p.grad is not None]
    assert grads, 'no parameter received a gradient'
    assert all(torch.isfinite(g).all() for g in grads)
    assert torch.isfinite(feats[level].grad).all()

    head.eval()
    with torch.no_grad():
        pred = head.predict(feats, [dict(img_shape=(64, 64), pad_shape=(64, 64))], {})
    assert pred.shape == (2, 3, 64, 64)


@pytest.mark.parametrize('name', HEADS)
def test_loss_keys(name, feats, build_head, make_samples):
    cfg, _ = MINIMAL[name]
    head = build_head(dict(cfg, type=name))
    losses = head.loss(feats, make_samples(), {})
    assert set(losses) == {'loss_ce', 'acc_seg'} | EXTRA_LOSS_KEYS.get(name, set())
    total = sum(value for key, value in losses.items() if 'loss' in key)
    assert torch.isfinite(total)
    total.backward()


@pytest.mark.parametrize('name', HEADS)
def test_misspelt_key_raises_type_error(name, build_head):
    cfg, _ = MINIMAL[name]
    with pytest.raises(TypeError, match='chanels'):
        build_head(dict(cfg, type=name, chanels=8))
