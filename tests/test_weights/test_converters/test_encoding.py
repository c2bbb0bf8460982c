"""segtools.weights.converters.encoding: PyTorch-Encoding backbones, classifiers and segmentation models.

Backbones, ImageNet classifiers and the DeepLabV3 head are rebuilt in PyTorch-Encoding's layout
(``_source_models``); their converted weights must give the same outputs (features, logits) in
segtools (Deep TEN: ``test_deepten.py``). Whole segmentation models are checked by key list: the
converted keys and shapes must be exactly those of the config's model.
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.registry import MODELS
from segtools.weights.converters import (
    ConversionError,
    ShapeMismatchError,
    check_against_model,
    convert_keys,
    encoding,
)

from ._source_models import (
    SourceATTENHead,
    SourceDeepLabHead,
    SourceFCFPNHead,
    SourcePyramidPooling,
    SourceResNet,
    SourceWideResNet,
    assert_same_features,
    build,
    encoding_fcn_keys,
    encoding_head_keys,
    fake_state,
    image_classifier_cfg,
    meta_shapes,
    meta_state,
    randomize,
    shapes,
)

ROOT = Path(__file__).resolve().parents[3]
DILATED = dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True)
R50S_SOURCE = dict(stem_width=64)
RESNEST_SOURCE = dict(stem_width=32, avg_down=True, radix=2, avd=True)

BACKBONE_CASES = [
    # (arch, source options, segtools backbone config)
    ('resnet50s', dict(stem_width=64), dict(type='ResNetV1c', depth=50, stem_channels=128)),
    ('resnet50s', dict(stem_width=64, dilated=True), dict(type='ResNetV1c', depth=50, stem_channels=128, **DILATED)),
    ('resnest50', dict(RESNEST_SOURCE, dilated=True), dict(type='ResNeSt', depth=50, **DILATED)),
]


@pytest.mark.parametrize(('arch', 'source_opts', 'backbone_cfg'), BACKBONE_CASES)
def test_converted_backbone_reproduces_source_outputs(arch, source_opts, backbone_cfg):
    source = randomize(SourceResNet(**source_opts))
    result = encoding.convert_with_report(source.state_dict(), arch)
    assert result.dropped == ['fc.weight', 'fc.bias']
    ours = build(backbone_cfg)
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    assert_same_features(source, ours)


CLASSIFIER_CASES = [
    # (arch, source options, segtools backbone config): PyTorch-Encoding's ImageNet models, not dilated.
    ('resnet50s', dict(stem_width=64), dict(type='ResNetV1c', depth=50, stem_channels=128)),
    ('resnest50', RESNEST_SOURCE, dict(type='ResNeSt', depth=50)),
    # A narrow ResNeSt-101 (upstream's deep stem of 2 x 64 at this depth; 4 x 8 here).
    (
        'resnest101',
        dict(RESNEST_SOURCE, stem_width=4, base=8, layers=(3, 4, 23, 3)),
        dict(type='ResNeSt', depth=101, stem_channels=8, base_channels=8),
    ),
]


@pytest.mark.parametrize(('arch', 'source_opts', 'backbone_cfg'), CLASSIFIER_CASES)
def test_converted_classifier_keeps_fc_and_reproduces_source_logits(arch, source_opts, backbone_cfg):
    """``<backbone>:classifier``: the ImageClassifier layout (``backbone.*``, ``fc`` -> ``head.fc``), strict
    load, the same float64 logits in eval mode; the plain backbone arch still drops ``fc``."""
    source = randomize(SourceResNet(**source_opts, num_classes=1000))
    result = encoding.convert_with_report(source.state_dict(), f'{arch}:classifier')
    assert result.dropped == []
    assert torch.equal(result.state_dict['head.fc.weight'], source.fc.weight)
    assert torch.equal(result.state_dict['head.fc.bias'], source.fc.bias)
    assert all(key.startswith('backbone.') for key in result.state_dict if not key.startswith('head.fc.'))
    ours = build(image_classifier_cfg(backbone_cfg, source.fc.in_features))
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(2, 3, 35, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = source.logits(x), ours(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())
    backbone = encoding.convert_with_report(source.state_dict(), arch)
    assert backbone.dropped == ['fc.weight', 'fc.bias']
    head = {'head.fc.weight', 'head.fc.bias'}
    assert {f'backbone.{key}' for key in backbone.state_dict} == set(result.state_dict) - head


def test_classifier_archs():
    assert encoding.parse_arch('resnest50:classifier') == ('classifier', 'resnest50')
    assert {'resnet50s:classifier', 'resnest269:classifier'} <= encoding.CLASSIFIER_ARCHS < set(encoding.ARCHS)
    # A classifier is a whole ImageClassifier, checked against a config's model, not its backbone.
    assert not encoding.CLASSIFIER_ARCHS & encoding.BACKBONE_ARCHS and encoding.BACKBONE_ARCHS < set(encoding.ARCHS)
    with pytest.raises(KeyError, match='WideResNet has no classifier'):
        encoding.convert({}, 'wideresnet38:classifier')
    with pytest.raises(KeyError, match='classifier variants exist'):
        encoding.convert({}, 'encnet_resnet50s:classifier')


def test_missing_num_batches_tracked_is_filled():
    state = SourceResNet(stem_width=64).state_dict()
    old = {key: value for key, value in state.items() if not key.endswith('num_batches_tracked')}
    converted = encoding.convert(old, 'resnet50s')
    assert shapes(converted) == shapes(build(dict(type='ResNetV1c', depth=50, stem_channels=128)).state_dict())
    assert converted['stem.7.num_batches_tracked'].item() == 0


def test_deeplab_head_reproduces_source_outputs():
    """PyTorch-Encoding concatenates ASPP's image pooling last; the projection must be rotated."""
    source = randomize(SourceDeepLabHead(32, nclass=5))
    state = {f'head.{key}': value for key, value in source.state_dict().items()}
    converted = convert_keys(state, encoding.HEADS['deeplab'], 'deeplab').state_dict
    head = build(
        dict(
            type='ASPPHead',
            in_channels=32,
            channels=4,
            dilations=(1, 12, 24, 36),
            project_dropout_ratio=0.5,
            num_classes=5,
            norm_cfg=dict(type='BN'),
            align_corners=True,
        )
    )
    head.load_state_dict({key.removeprefix('decode_head.'): value for key, value in converted.items()}, strict=True)
    x = torch.randn(2, 32, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(head([x]), source(x), rtol=1e-7, atol=1e-9)


SEGMENTATION_MODELS = [
    # (arch, source backbone options, head, nclass, lateral, aux, segtools config)
    ('fcn_resnet50s', dict(stem_width=64), 'fcn', 150, False, False, 'fcn/fcn_r50s-d8_4xb4-180e_ade20k-480x480.py'),
    ('psp_resnet50s', R50S_SOURCE, 'psp', 150, False, True, 'pspnet/pspnet_r50s-d8_4xb4-180e_ade20k-480x480.py'),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        150,
        False,
        True,
        'encnet/encnet_r50s-d8_4xb4-180e_ade20k-480x480.py',
    ),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        59,
        True,
        True,
        'encnet/encnet_r50s-d8_4xb4-80e_pascal-context-59-480x480.py',
    ),
    ('fcn_resnest50', RESNEST_SOURCE, 'fcn', 150, False, True, 'resnest/fcn_s50-d8_4xb4-120e_ade20k-480x480.py'),
    (
        'deeplab_resnest50',
        RESNEST_SOURCE,
        'deeplab',
        150,
        False,
        True,
        'resnest/deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py',
    ),
]


def model_state(config):
    return MODELS.build(Config.fromfile(str(ROOT / 'configs' / config)).model).state_dict()


@pytest.mark.parametrize(('arch', 'backbone_opts', 'head', 'nclass', 'lateral', 'aux', 'config'), SEGMENTATION_MODELS)
def test_segmentation_model_keys_match_config(arch, backbone_opts, head, nclass, lateral, aux, config):
    backbone = SourceResNet(**backbone_opts).state_dict()
    # BaseNet sets pretrained.fc = None, so a segmentation checkpoint has no classifier.
    key_shapes = {f'pretrained.{k}': tuple(v.shape) for k, v in backbone.items() if not k.startswith('fc.')}
    key_shapes |= encoding_head_keys(head, nclass, lateral)
    if aux:
        key_shapes |= encoding_fcn_keys('auxlayer', 1024, nclass)
    result = encoding.convert_with_report(fake_state(key_shapes), arch)
    assert result.dropped == []
    expected = model_state(config)
    assert shapes(result.state_dict) == shapes(expected)
    assert check_against_model(result.state_dict, expected) == ([], [])


def test_parse_arch_and_unknown_arch():
    assert encoding.parse_arch('encnet_resnet101s') == ('encnet', 'resnet101s')
    assert encoding.parse_arch('resnest50') == (None, 'resnest50')
    with pytest.raises(KeyError, match='resnet42'):
        encoding.convert({}, 'resnet42')
    assert encoding.BACKBONE_ARCHS < set(encoding.ARCHS) and 'deeplab_resnest269' in encoding.ARCHS


# --- WideResNet, ATTEN, FCFPN, UperNet ---------------------------------------------------------------------

WIDE_WIDTHS = ((128, 128), (256, 256), (512, 512), (512, 1024), (512, 1024, 2048), (1024, 2048, 4096))
TINY_WIDE_WIDTHS = ((8, 8), (8, 12), (16, 16), (16, 24), (16, 24, 32), (24, 32, 40))


@pytest.mark.parametrize(('depth', 'layers'), [(38, (3, 3, 6, 3, 1, 1)), (50, (3, 3, 6, 6, 3, 1))])
@pytest.mark.parametrize('dilated', [True, False])
def test_converted_wideresnet_reproduces_source_outputs(depth, layers, dilated):
    """Narrow copies of wideresnet38/50 (in-place ABN = batch norm + leaky ReLU 0.01): mod5 and bn_out."""
    source = randomize(SourceWideResNet(layers, TINY_WIDE_WIDTHS, stem=4, dilated=dilated))
    result = encoding.convert_with_report(source.state_dict(), f'wideresnet{depth}')
    assert result.dropped == ['fc.weight', 'fc.bias']
    ours = build(
        dict(
            type='WideResNet',
            depth=depth,
            stem_channels=4,
            stage_channels=TINY_WIDE_WIDTHS,
            output_stride=8 if dilated else 32,
            out_indices=(3, 5),
        )
    )
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(1, 3, 37, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = source(x), ours(x)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-6 * e.abs().max().item())


def test_wideresnet_refuses_resnet_keys():
    with pytest.raises(ConversionError, match=r'conv1\.0\.weight'):
        encoding.convert(fake_state({'conv1.0.weight': (2, 3, 3, 3), 'mod1.weight': (2, 3, 3, 3)}), 'wideresnet38')


def meta_model_state(config):
    with torch.device('meta'):
        return model_state(config)


def test_atten_wideresnet38_keys_match_config():
    """ATTEN on wideresnet38 (configs/atten): the ACF module's second names are dropped."""
    backbone = meta_shapes(lambda: SourceWideResNet((3, 3, 6, 3, 1, 1), WIDE_WIDTHS))
    key_shapes = {f'pretrained.{k}': v for k, v in backbone.items()}
    key_shapes |= {f'head.{k}': v for k, v in meta_shapes(lambda: SourceATTENHead(4096, 150, 8, 1, 32)).items()}
    key_shapes |= encoding_fcn_keys('auxlayer', 1024, 150)
    state = meta_state(key_shapes)
    # One module under two names shares its tensors (torch.equal is not defined on the meta device).
    for key in key_shapes:
        canonical = key.replace('head.atten_layers.1.', 'head.atten.').replace('.conv_ks.', '.conv_qs.')
        state[key] = state[canonical]
    result = encoding.convert_with_report(state, 'atten_wideresnet38')
    assert sorted(result.dropped) == sorted(
        ['pretrained.fc.weight', 'pretrained.fc.bias']
        + [k for k in key_shapes if k.startswith('head.atten_layers.1.') or '.conv_ks.' in k]
    )
    expected = meta_model_state('atten/atten_wrn38-d8_4xb4-180e_ade20k-480x480.py')
    assert shapes(result.state_dict) == shapes(expected)


def test_fcfpn_keys_match_config():
    backbone = meta_shapes(lambda: SourceResNet(stem_width=64))
    key_shapes = {f'pretrained.{k}': v for k, v in backbone.items() if not k.startswith('fc.')}
    key_shapes |= {f'head.{k}': v for k, v in meta_shapes(lambda: SourceFCFPNHead(150)).items()}
    result = encoding.convert_with_report(meta_state(key_shapes), 'fcfpn_resnet50s')
    assert result.dropped == []
    expected = meta_model_state('fcfpn/fcfpn_r50s_4xb4-180e_ade20k-480x480.py')
    assert shapes(result.state_dict) == shapes(expected)


def test_upernet_names_map_but_widths_do_not_fit_uperhead():
    """PyTorch-Encoding's UperNet: every key has an UPerHead name, but its widths (c4conv and pyramid 256,
    pooling branches 512, fused 512) cannot be expressed by UPerHead's single ``channels``."""
    head = {f'head.{k}': v for k, v in meta_shapes(lambda: SourceFCFPNHead(150, (256, 512, 1024, 4096))).items()}
    head |= {f'head.extramodule.{k}': v for k, v in meta_shapes(lambda: SourcePyramidPooling(2048)).items()}
    result = encoding.convert_with_report(meta_state(head), 'upernet_resnet50s')
    assert result.dropped == []
    with torch.device('meta'):
        ours = {
            f'decode_head.{k}': v
            for k, v in MODELS.build(
                dict(
                    type='UPerHead',
                    in_channels=[256, 512, 1024, 2048],
                    in_index=(0, 1, 2, 3),
                    channels=512,
                    num_classes=150,
                    norm_cfg=dict(type='BN'),
                )
            )
            .state_dict()
            .items()
        }
    assert set(result.state_dict) == set(ours)
    with pytest.raises(ShapeMismatchError, match=r'decode_head\.bottleneck\.conv\.weight: converted \(256, 4096'):
        check_against_model(result.state_dict, ours)


@pytest.mark.parametrize(
    ('arch', 'message'),
    [
        ('xception65', 'no xception65 weights'),
        ('fcn_wideresnet38', 'only used by'),
        ('encnet_xception65', 'not supported'),
    ],
)
def test_unsupported_archs_say_why(arch, message):
    with pytest.raises(KeyError, match=message):
        encoding.convert({}, arch)
    assert arch not in encoding.ARCHS
