"""segtools.weights.converters.encoding, ``deepten_resnet50``: PyTorch-Encoding's Deep TEN -> ImageClassifier.

A faithful rebuild of upstream's ``DeepTen`` (``_source_models.SourceDeepTen``: resnet50s not dilated
as ``pretrained``, ``head`` = conv with bias, BN, ReLU, Encoding, View, Normalize, Linear) with random
weights and batch-norm statistics is converted; segtools' ``ImageClassifier`` with a ``DeepTENHead``
must load it strictly and give the same float64 logits.
"""

import pytest
import torch

from segtools.weights.converters import ConversionError, convert_state_dict, encoding, is_backbone_spec, parse_spec

from ._source_models import SourceDeepTen, build, meta_shapes, meta_state, randomize, shapes

ARCH = 'deepten_resnet50'
MINC_CLASSES = 23


def deepten_cfg(stem_channels=128, base_channels=64, in_channels=2048, channels=128, num_codes=32):
    """segtools' Deep TEN: the model store's ``fits`` of ``deepten_resnet50_minc`` at the defaults."""
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNetV1c', depth=50, stem_channels=stem_channels, base_channels=base_channels, out_indices=(3,)
        ),
        head=dict(
            type='DeepTENHead',
            num_classes=MINC_CLASSES,
            in_channels=in_channels,
            channels=channels,
            num_codes=num_codes,
        ),
    )


def random_deepten(**kwargs) -> SourceDeepTen:
    """A source Deep TEN in float64 and eval mode with random weights, BN statistics and Encoding
    parameters, and a head conv bias far from zero (so an unfolded bias would show)."""
    source = randomize(SourceDeepTen(MINC_CLASSES, **kwargs))
    gen = torch.Generator().manual_seed(4)
    encoding_layer, conv = source.head[3], source.head[0]
    with torch.no_grad():
        encoding_layer.codewords.copy_(torch.randn(encoding_layer.codewords.shape, generator=gen) * 0.5)
        encoding_layer.scale.copy_(-torch.rand(encoding_layer.scale.shape, generator=gen) * 0.1)
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen))
    return source


def test_converted_deepten_loads_strictly_and_reproduces_source_logits():
    """Full widths (upstream's file): every key maps, ``pretrained.fc`` is dropped, the same logits."""
    source = random_deepten()
    state = source.state_dict()
    result = encoding.convert_with_report(state, ARCH)
    assert result.dropped == ['pretrained.fc.weight', 'pretrained.fc.bias']
    assert 'head.conv.conv.bias' not in result.state_dict
    folded_mean = state['head.1.running_mean'] - state['head.0.bias']
    assert torch.equal(result.state_dict['head.conv.bn.running_mean'], folded_mean)
    assert result.renamed['head.0.bias'] == 'head.conv.bn.running_mean'
    assert torch.equal(result.state_dict['head.encoding.codewords'], state['head.3.codewords'])
    assert torch.equal(result.state_dict['head.encoding.scale'], state['head.3.scale'])
    assert torch.equal(result.state_dict['head.fc.weight'], state['head.6.weight'])
    assert torch.equal(result.state_dict['backbone.stem.7.running_var'], state['pretrained.bn1.running_var'])

    ours = build(deepten_cfg())
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = source(x), ours(x)
    assert got.shape == (2, MINC_CLASSES)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10 * expected.abs().max().item())


def test_the_conv_bias_is_needed_and_the_fold_is_exact_in_training_too():
    """Without the fold the logits differ; in training mode (batch statistics) the bias cancels as well."""
    source = random_deepten(backbone=dict(stem_width=4, base=8), channels=16, ncodes=8)
    converted = encoding.convert(source.state_dict(), ARCH)
    ours = build(deepten_cfg(stem_channels=8, base_channels=8, in_channels=256, channels=16, num_codes=8))
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(3, 3, 64, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    bn = ours.head.conv.bn
    with torch.no_grad():
        expected = source(x)
        torch.testing.assert_close(ours(x), expected, rtol=1e-10, atol=1e-12)
        folded = bn.running_mean.clone()
        bn.running_mean.copy_(source.head[1].running_mean)  # the statistics without the fold
        assert not torch.allclose(ours(x), expected, rtol=1e-4, atol=1e-6)
        bn.running_mean.copy_(folded)
        source.head[1].train(), bn.train()
        torch.testing.assert_close(ours(x), source(x), rtol=1e-9, atol=1e-12)


def test_unknown_keys_are_refused():
    state = SourceDeepTen(MINC_CLASSES, backbone=dict(stem_width=4, base=8), channels=16, ncodes=8).state_dict()
    with pytest.raises(ConversionError, match=r'no conversion rule for source keys: head\.7\.weight'):
        encoding.convert({**state, 'head.7.weight': torch.zeros(2, 2)}, ARCH)
    with pytest.raises(ConversionError, match=r'auxlayer\.conv5\.0\.weight'):
        encoding.convert({**state, 'auxlayer.conv5.0.weight': torch.zeros(2, 2, 3, 3)}, ARCH)


def test_a_bias_without_batch_norm_statistics_is_refused():
    state = SourceDeepTen(MINC_CLASSES, backbone=dict(stem_width=4, base=8), channels=16, ncodes=8).state_dict()
    del state['head.1.running_mean']
    with pytest.raises(ConversionError, match=r"fold 'head\.0\.bias' \(16,\) into 'head\.1\.running_mean'"):
        encoding.convert(state, ARCH)


def test_deepten_spec_is_a_whole_model_and_no_longer_pending():
    assert encoding.parse_arch(ARCH) == ('deepten', 'resnet50s')
    assert ARCH in encoding.ARCHS and ARCH not in encoding.BACKBONE_ARCHS and encoding.PENDING == {}
    assert parse_spec(f'encoding:{ARCH}') == (encoding, ARCH) and not is_backbone_spec(f'encoding:{ARCH}')
    key_shapes = meta_shapes(lambda: SourceDeepTen(MINC_CLASSES))
    converted = convert_state_dict(meta_state(key_shapes), f'encoding:{ARCH}').state_dict
    assert {key for key in converted if not key.startswith('backbone.')} == {
        'head.conv.conv.weight',
        *(f'head.conv.bn.{leaf}' for leaf in ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')),
        'head.encoding.codewords',
        'head.encoding.scale',
        'head.fc.weight',
        'head.fc.bias',
    }
