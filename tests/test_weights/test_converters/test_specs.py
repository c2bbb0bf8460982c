"""segtools.weights.converters (the package): ``'<source>:<arch>'`` specs and dispatch."""

import pytest
import torch

from segtools.weights.converters import SOURCES, convert_state_dict, is_backbone_spec, parse_spec, pending_reason


def test_every_source_declares_archs_backbones_and_a_name():
    assert sorted(SOURCES) == ['encoding', 'mmseg', 'torchvision']
    for module in SOURCES.values():
        assert module.ARCHS and module.BACKBONE_ARCHS <= set(module.ARCHS) and module.SOURCE


def test_parse_spec_and_backbone_flag():
    module, arch = parse_spec('encoding:resnest101')
    assert module is SOURCES['encoding'] and arch == 'resnest101'
    assert parse_spec('encoding:resnest101:classifier') == (SOURCES['encoding'], 'resnest101:classifier')
    assert is_backbone_spec('mmseg:resnet_v1c') and is_backbone_spec('torchvision:resnet50')
    # A classifier is a whole ImageClassifier (backbone.*, head.fc), whatever its source.
    assert not is_backbone_spec('torchvision:resnet50:classifier')
    assert not is_backbone_spec('encoding:resnet50s:classifier')
    assert not is_backbone_spec('encoding:encnet_resnet50s') and not is_backbone_spec('mmseg:psp')


def test_pending_spec_is_named_and_refused_with_the_reason(monkeypatch):
    monkeypatch.setitem(SOURCES['encoding'].PENDING, 'deepten_resnet50', 'its target is not written')
    assert pending_reason('encoding:deepten_resnet50') == 'its target is not written'
    assert pending_reason('encoding:resnet50s') is None and pending_reason('mmseg:fcn') is None
    assert pending_reason('caffe:x') is None
    with pytest.raises(KeyError, match="'encoding:deepten_resnet50' is not implemented yet: its target"):
        convert_state_dict({}, 'encoding:deepten_resnet50')


@pytest.mark.parametrize(
    ('spec', 'message'),
    [
        ('resnet50s', 'expected <source>:<arch>'),
        ('caffe:resnet50', 'caffe'),
        ('encoding:vgg16', "unknown encoding arch 'vgg16'"),
    ],
)
def test_bad_specs_are_refused(spec, message):
    with pytest.raises(KeyError, match=message):
        parse_spec(spec)


def test_convert_state_dict_dispatches_to_the_source():
    state = {'conv1.0.weight': torch.ones(1), 'bn1.bias': torch.zeros(1), 'fc.weight': torch.ones(1)}
    result = convert_state_dict(state, 'encoding:resnet50s')
    assert set(result.state_dict) == {'stem.0.weight', 'stem.7.bias'} and result.dropped == ['fc.weight']
    result = convert_state_dict(state, 'encoding:resnet50s:classifier')
    assert set(result.state_dict) == {'backbone.stem.0.weight', 'backbone.stem.7.bias', 'head.fc.weight'}
    assert result.dropped == []
