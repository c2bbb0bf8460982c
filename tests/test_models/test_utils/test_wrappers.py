"""segtools.models.utils.wrappers: resize's no-op shortcut, in and outside export (the export of
a resize to a symbolic size is tested in test_adaptive_pool.py)."""

import pytest
import torch

from segtools.models.utils import add_prefix, resize, wrappers


@pytest.mark.parametrize('exporting', [False, True])
def test_resize_to_the_same_size_returns_the_input(monkeypatch, exporting):
    monkeypatch.setattr(wrappers, 'is_exporting', lambda: exporting)
    x = torch.randn(1, 2, 5, 7)
    assert resize(x, (5, 7)) is x
    assert resize(x, torch.Size([5, 7]), mode='nearest') is x
    out = resize(x, (6, 7))
    assert out.shape == (1, 2, 6, 7)
    torch.testing.assert_close(out, torch.nn.functional.interpolate(x, size=(6, 7), mode='bilinear'))


def test_add_prefix():
    assert add_prefix({'loss': 1}, 'aux') == {'aux.loss': 1}
