"""segtools.weights.converters.torchvision: torchvision / timm ImageNet backbones, checked by outputs."""

import pytest
import torch

from segtools.weights.converters import ConversionError, torchvision

from ._source_models import SourceResNet, assert_same_features, build, image_classifier_cfg, randomize, shapes

CASES = [
    ('resnet50', dict(), dict(type='ResNet', depth=50)),
    ('resnest50d', dict(stem_width=32, avg_down=True, radix=2, avd=True), dict(type='ResNeSt', depth=50)),
]


@pytest.mark.parametrize(('arch', 'source_opts', 'backbone_cfg'), CASES)
def test_converted_backbone_reproduces_source_outputs(arch, source_opts, backbone_cfg):
    source = randomize(SourceResNet(**source_opts))
    result = torchvision.convert_with_report(source.state_dict(), arch)
    assert result.dropped == ['fc.weight', 'fc.bias']
    ours = build(backbone_cfg)
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    assert_same_features(source, ours)


@pytest.mark.parametrize(('arch', 'source_opts', 'backbone_cfg'), CASES)
def test_converted_classifier_keeps_fc_and_reproduces_source_logits(arch, source_opts, backbone_cfg):
    """``<arch>:classifier`` -> ImageClassifier keys (``backbone.*``, ``fc`` -> ``head.fc``), same logits."""
    source = randomize(SourceResNet(**source_opts, num_classes=1000))
    result = torchvision.convert_with_report(source.state_dict(), f'{arch}:classifier')
    assert result.dropped == [] and f'{arch}:classifier' in torchvision.ARCHS
    assert f'{arch}:classifier' not in torchvision.BACKBONE_ARCHS
    assert torch.equal(result.state_dict['head.fc.weight'], source.fc.weight)
    ours = build(image_classifier_cfg(backbone_cfg, source.fc.in_features))
    ours.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(2, 3, 35, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = source.logits(x)
        torch.testing.assert_close(ours(x), expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def test_unknown_arch_and_unmapped_key_are_refused():
    with pytest.raises(KeyError, match='vgg16'):
        torchvision.convert({}, 'vgg16')
    state = {'conv1.weight': torch.zeros(64, 3, 7, 7), 'features.0.weight': torch.zeros(1)}
    with pytest.raises(ConversionError, match=r'features\.0\.weight'):
        torchvision.convert(state, 'resnet50')
