"""Contract of every decode head segtools registers: build from a minimal config, logits of the
selected level, finite gradients, loss keys (the auxiliary ones from the head's own
``aux_losses``), the base ``loss``, prediction size, a misspelt key.

The heads come from the registry, so a new one cannot slip past: a registered head without a
minimal config fails. Only segtools' own heads are covered (registered from a ``segtools.``
module): out-of-tree plugins such as ``projects/example_head`` register only when their
config imports them, which would make the collected tests depend on what else a pytest worker
imported (pytest-xdist refuses workers that collect different tests); they test themselves
(``tests/test_projects/``).
"""

import pytest
import torch

import segtools.models  # noqa: F401  (registration)
from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.registry import MODELS

ALL_LEVELS = dict(in_channels=[4, 8, 12, 16], in_index=[0, 1, 2, 3])
# Minimal config (every auxiliary output switched on) and the index of the level whose size the
# logits have (see conftest.LEVELS).
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
    'ATTENHead': (dict(in_channels=16, channels=16, num_heads=2, num_codes=4, use_se_loss=True), 3),
}
# The keys of the minimal configs' decode loss (the default CrossEntropyLoss) and of the SE loss
# (the default SELoss).
DECODE_KEYS = {'loss_ce', 'acc_seg'}
SE_KEY = 'loss_se'


def registered_heads() -> list[str]:
    """Names of the :class:`BaseDecodeHead` subclasses that segtools' modules register in ``MODELS``."""
    names = sorted(
        name
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, BaseDecodeHead) and cls.__module__.startswith('segtools.')
    )
    assert names, 'no decode head registered from segtools'
    return names


HEADS = registered_heads()


def minimal(name: str) -> tuple[dict, int]:
    """``MINIMAL[name]``; a registered head without one fails, saying where to add it."""
    if name not in MINIMAL:
        pytest.fail(f'{name} is a registered decode head without a minimal config: add one to MINIMAL in {__file__}')
    return MINIMAL[name]


def expected_loss_keys(head: BaseDecodeHead, aux_names: set[str]) -> set[str]:
    """Decode keys, plus per auxiliary output the SE key or the decode keys prefixed with its name."""
    keys = set(DECODE_KEYS)
    for name in aux_names:
        keys |= {SE_KEY} if head.aux_losses[name] == 'se' else {f'{name}.{key}' for key in DECODE_KEYS}
    return keys


def test_every_registered_head_has_a_minimal_config():
    assert len(HEADS) > 0
    missing = sorted(set(HEADS) - set(MINIMAL))
    assert not missing, f'registered decode heads without a minimal config: {missing}; add them to MINIMAL'
    stale = sorted(set(MINIMAL) - set(HEADS))
    assert not stale, f'MINIMAL names heads that segtools does not register: {stale}'


@pytest.mark.parametrize('name', HEADS)
def test_forward_backward_and_predict(name, feats, build_head):
    cfg, level = minimal(name)
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
        # The losses see the logits that prediction sees.
        assert torch.equal(head.forward_with_aux(feats)[0], head(feats))
    assert pred.shape == (2, 3, 64, 64)


@pytest.mark.parametrize('name', HEADS)
def test_loss_keys(name, feats, build_head, make_samples):
    cfg, _ = minimal(name)
    head = build_head(dict(cfg, type=name))
    _, aux_outputs = head.forward_with_aux(feats)
    # The minimal config switches every declared auxiliary output on, so its loss is covered here.
    assert set(aux_outputs) == set(head.aux_losses)
    losses = head.loss(feats, make_samples(), {})
    assert set(losses) == expected_loss_keys(head, set(aux_outputs))
    total = sum(value for key, value in losses.items() if 'loss' in key)
    assert torch.isfinite(total)
    total.backward()


@pytest.mark.parametrize('name', HEADS)
def test_heads_write_features_not_losses(name):
    minimal(name)
    assert MODELS.get(name).loss is BaseDecodeHead.loss, f'{name} overrides loss: declare aux_losses instead'


@pytest.mark.parametrize('name', HEADS)
def test_misspelt_key_raises_type_error(name, build_head):
    cfg, _ = minimal(name)
    with pytest.raises(TypeError, match='chanels'):
        build_head(dict(cfg, type=name, chanels=8))
