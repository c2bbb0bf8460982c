"""FCNHead: conv stack, input concatenation, dilation and PyTorch-Encoding's global branch."""

import pytest

from segtools.models.decode_heads.fcn_head import FCNHead  # noqa: F401  (registers it)


@pytest.mark.parametrize('num_convs', [0, 1, 3])
@pytest.mark.parametrize('concat_input', [False, True])
def test_conv_stack(num_convs, concat_input, feats, build_head):
    head = build_head(dict(type='FCNHead', in_channels=16, channels=16, num_convs=num_convs, concat_input=concat_input))
    assert len(head.convs) == num_convs
    assert (head.conv_cat is not None) == concat_input
    assert head(feats).shape == (2, 3, 4, 4)


def test_num_convs_zero_needs_matching_channels(build_head):
    with pytest.raises(ValueError, match='in_channels == channels'):
        build_head(dict(type='FCNHead', in_channels=16, channels=8, num_convs=0))


@pytest.mark.parametrize('dilation', [1, 2])
def test_dilation_keeps_size(dilation, feats, build_head):
    head = build_head(dict(type='FCNHead', in_channels=16, channels=8, dilation=dilation, concat_input=False))
    assert all(conv.conv.dilation == (dilation, dilation) for conv in head.convs)
    assert head(feats).shape == (2, 3, 4, 4)


def test_with_global_halves_the_convs(feats, build_head):
    # PyTorch-Encoding: one 3x3 conv to in/4, concatenated with its global pooling.
    head = build_head(
        dict(type='FCNHead', in_channels=16, channels=8, num_convs=1, concat_input=False, with_global=True)
    )
    assert head.convs[-1].conv.out_channels == 4
    assert head.global_pool.conv.conv.in_channels == 4
    assert head.conv_seg.in_channels == 8
    assert head(feats).shape == (2, 3, 4, 4)


def test_with_global_needs_even_channels(build_head):
    with pytest.raises(ValueError, match='with_global'):
        build_head(dict(type='FCNHead', in_channels=16, channels=7, with_global=True))


def test_resize_concat_input(feats, build_head):
    head = build_head(
        dict(type='FCNHead', in_channels=[8, 16], in_index=[1, 3], input_transform='resize_concat', channels=8)
    )
    assert head.convs[0].conv.in_channels == 24
    assert head(feats).shape == (2, 3, 8, 8)
