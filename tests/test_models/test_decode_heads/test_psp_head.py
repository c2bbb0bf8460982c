"""PSPHead: pyramid pooling then a 3x3 bottleneck."""

import pytest

from segtools.models.decode_heads.psp_head import PSPHead  # noqa: F401  (registers it)


@pytest.mark.parametrize('pool_scales', [(1,), (1, 2, 3, 6)])
def test_pool_scales(pool_scales, feats, build_head):
    head = build_head(dict(type='PSPHead', in_channels=16, channels=4, pool_scales=pool_scales))
    assert [b.pool_scale for b in head.psp.branches] == list(pool_scales)
    assert head.bottleneck.conv.in_channels == 16 + 4 * len(pool_scales)
    assert head(feats).shape == (2, 3, 4, 4)


def test_empty_pool_scales(build_head):
    with pytest.raises(ValueError, match='pool_scales'):
        build_head(dict(type='PSPHead', in_channels=16, channels=4, pool_scales=()))
