"""PyTorch-Encoding segmentation heads rebuilt in its layout (``_source_models``): converted weights
must give segtools' heads the same outputs (FCN with_global, PSP, EncNet with and without laterals,
FCFPN, ATTEN with one and two softmaxes)."""

import pytest
import torch

from segtools.weights.converters import ConversionError, encoding

from ._source_models import (
    SourceATTENHead,
    SourceEncHead,
    SourceFCFPNHead,
    SourceFCNHead,
    SourcePSPHead,
    build,
    randomize,
)

GEN = torch.Generator().manual_seed(4)


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64, generator=GEN)


def load_head(source, arch, cfg):
    """Converts ``source``'s ``head.*`` keys by ``arch`` and loads them strictly into the head ``cfg``."""
    state = {f'head.{key}': value for key, value in source.state_dict().items()}
    result = encoding.convert_with_report(state, arch)
    head = build(dict(cfg, norm_cfg=dict(type='BN'), align_corners=True, dropout_ratio=0.1))
    head.load_state_dict({k.removeprefix('decode_head.'): v for k, v in result.state_dict.items()}, strict=True)
    return head, result


def assert_close(got, expected):
    torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-9)


def test_fcn_with_global_reproduces_source():
    source = randomize(SourceFCNHead(32, nclass=5, with_global=True))
    cfg = dict(type='FCNHead', in_channels=32, channels=16, num_convs=1, concat_input=False, with_global=True)
    head, _ = load_head(source, 'fcn-global_resnet50s', dict(cfg, num_classes=5))
    x = rand(2, 32, 9, 7)
    with torch.no_grad():
        assert_close(head([x]), source(x))


def test_fcn_with_global_keys_are_refused_by_plain_fcn():
    source = SourceFCNHead(32, nclass=5, with_global=True)
    state = {f'head.{key}': value for key, value in source.state_dict().items()}
    with pytest.raises(ConversionError, match=r'head\.conv5\.3\.1\.gap\.1\.weight'):
        encoding.convert(state, 'fcn_resnet50s')


def test_psp_head_reproduces_source():
    source = randomize(SourcePSPHead(32, nclass=5))
    head, _ = load_head(source, 'psp_resnet50s', dict(type='PSPHead', in_channels=32, channels=8, num_classes=5))
    x = rand(2, 32, 13, 11)
    with torch.no_grad():
        assert_close(head([x]), source(x))


@pytest.mark.parametrize('lateral', [False, True])
def test_encnet_head_reproduces_source_with_encoding_layer(lateral):
    source = randomize(SourceEncHead(32, nclass=5, lateral=lateral, lateral_in=(8, 12), width=16, ncodes=8))
    cfg = dict(
        type='EncHead',
        in_channels=[8, 12, 32],
        in_index=[0, 1, 2],
        channels=16,
        num_codes=8,
        use_se_loss=True,
        add_lateral=lateral,
        num_classes=5,
    )
    head, result = load_head(source, 'encnet_resnet50s', cfg)
    assert result.dropped == []
    c2, c3, c4 = rand(2, 8, 9, 7), rand(2, 12, 9, 7), rand(2, 32, 9, 7)
    with torch.no_grad():
        seg, aux = head.forward_with_aux([c2, c3, c4])
        se = aux['se']
        expected_seg, expected_se = source(None, c2, c3, c4)
    assert_close(seg, expected_seg)
    assert_close(se, expected_se)


def test_fcfpn_head_reproduces_source():
    """PyTorch-Encoding fuses the levels coarsest first: the fused conv's inputs are reversed."""
    channels = (4, 8, 12, 16)
    source = randomize(SourceFCFPNHead(5, in_channels=channels, fpn_dim=6, fused=10))
    cfg = dict(type='FCFPNHead', in_channels=list(channels), in_index=(0, 1, 2, 3), channels=10, fpn_channels=6)
    head, _ = load_head(source, 'fcfpn_resnet50s', dict(cfg, num_classes=5))
    inputs = [rand(2, c, 17 // 2**i + 1, 13 // 2**i + 1) for i, c in enumerate(channels)]
    with torch.no_grad():
        assert_close(head(inputs), source(*inputs))


@pytest.mark.parametrize('nmixs', [1, 2])
def test_atten_head_reproduces_source(nmixs):
    source = randomize(SourceATTENHead(32, nclass=5, nheads=2, nmixs=nmixs, ncodes=8))
    cfg = dict(
        type='ATTENHead',
        in_channels=32,
        channels=16,
        num_heads=2,
        num_mixtures=nmixs,
        num_codes=8,
        with_global=True,
        with_enc=True,
        num_classes=5,
    )
    head, result = load_head(source, 'atten_wideresnet38', cfg)
    # The ACF module is registered twice and its key projection is its query projection.
    assert result.dropped and all('atten_layers.1.' in key or 'conv_ks' in key for key in result.dropped)
    x = rand(2, 32, 8, 6)
    with torch.no_grad():
        assert_close(head([x]), source(x))


def test_atten_second_names_must_hold_the_same_tensors():
    state = {f'head.{key}': value.clone() for key, value in SourceATTENHead(32, nclass=5).state_dict().items()}
    state['head.atten_layers.1.conv_vs.bias'] += 1
    with pytest.raises(ConversionError, match=r'atten_layers\.1\.conv_vs\.bias.*differs'):
        encoding.convert(state, 'atten_resnet50s')
    del state['head.atten.conv_qs.weight']
    with pytest.raises(ConversionError, match=r'lacks'):
        encoding.convert(state, 'atten_resnet50s')
