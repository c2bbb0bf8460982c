"""GlobalAveragePooling: (N, C, H, W) -> (N, C) means, declared channels, no strides."""

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.necks import GlobalAveragePooling
from segtools.registry import MODELS


def test_pools_every_map_to_its_mean():
    maps = (torch.randn(2, 4, 3, 5), torch.randn(2, 8, 1, 1))
    neck = GlobalAveragePooling(in_channels=(4, 8))
    out = neck(maps)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 4), (2, 8)]
    for o, m in zip(out, maps, strict=True):
        torch.testing.assert_close(o, m.flatten(2).mean(dim=2))
    torch.testing.assert_close(GlobalAveragePooling()(maps[0]), out[0])  # a single map, in_channels unknown


def test_declares_channels_and_no_strides():
    neck = GlobalAveragePooling(in_channels=16)
    assert neck.out_channels == (16,) and neck.in_channels == (16,)
    assert GlobalAveragePooling.out_strides is None and neck.out_strides is None
    assert GlobalAveragePooling().out_channels is None


def test_checks_its_inputs():
    with pytest.raises(ValueError, match=r'input 0 has 3 channels, in_channels=\(4,\)'):
        GlobalAveragePooling(in_channels=4)((torch.randn(1, 3, 2, 2),))
    with pytest.raises(ValueError, match=r'must be \(N, C, H, W\)'):
        GlobalAveragePooling()(torch.randn(1, 3))


def test_registered():
    with DefaultScope.overwrite_default_scope('segtools'):
        assert isinstance(MODELS.build(dict(type='GlobalAveragePooling')), GlobalAveragePooling)
