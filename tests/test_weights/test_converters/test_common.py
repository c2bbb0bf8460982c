"""segtools.weights.converters.common: rules, convert_keys, the model check and unwrapping."""

import pytest
import torch

from segtools.weights.converters.common import (
    ConversionError,
    Rule,
    ShapeMismatchError,
    add_num_batches_tracked,
    backbone_rules,
    check_against_model,
    convert_keys,
    move_last_block_first,
    unwrap_state_dict,
)


def test_first_matching_rule_wins_drops_are_reported_and_values_kept():
    rules = [Rule(r'a\.(\d)', r'x.\1'), Rule(r'a\.\d', 'never'), Rule('fc', None)]
    state = {'a.1.weight': torch.ones(2), 'fc.bias': torch.zeros(1)}
    result = convert_keys(state, rules, 'toy')
    assert result.state_dict.keys() == {'x.1.weight'} and result.dropped == ['fc.bias']
    assert result.renamed == {'a.1.weight': 'x.1.weight'}
    assert result.state_dict['x.1.weight'] is state['a.1.weight']


def test_unmatched_keys_bad_leaves_and_collisions_are_refused():
    with pytest.raises(ConversionError, match=r'toy: no conversion rule for source keys: b\.weight'):
        convert_keys({'b.weight': torch.zeros(1)}, [Rule('a', 'a')], 'toy')
    with pytest.raises(ConversionError, match=r"leaf 'alpha'"):
        convert_keys({'a.alpha': torch.zeros(1)}, [Rule('a', 'a')], 'toy')
    with pytest.raises(ConversionError, match=r"'a\.weight' and 'b\.weight' both map to 'c\.weight'"):
        convert_keys({'a.weight': torch.zeros(1), 'b.weight': torch.zeros(1)}, [Rule('[ab]', 'c')], 'toy')


def test_a_rule_can_rename_the_leaf_and_transform_another_leaf_than_weight():
    """mmcv's ``Scale``: ``pam.gamma.scale`` (0-d) -> the parameter ``pam.gamma`` of shape (1,)."""
    rules = [Rule(r'(pam)\.gamma', r'\1', lambda t: t.reshape(1), 'scale', leaf='gamma'), Rule('conv', 'conv')]
    state = {'pam.gamma.scale': torch.tensor(0.5), 'conv.weight': torch.ones(2)}
    result = convert_keys(state, rules, 'toy')
    assert result.renamed == {'pam.gamma.scale': 'pam.gamma', 'conv.weight': 'conv.weight'}
    assert result.state_dict['pam.gamma'].shape == (1,) and result.state_dict['pam.gamma'].item() == 0.5
    # The transform touches only its leaf.
    weight_only = [Rule('conv', 'conv', lambda t: -t)]
    result = convert_keys({'conv.weight': torch.ones(1), 'conv.bias': torch.ones(1)}, weight_only, 'toy')
    assert result.state_dict['conv.weight'].item() == -1 and result.state_dict['conv.bias'].item() == 1


def test_num_batches_tracked_is_added_next_to_running_var():
    state = {'bn.running_var': torch.ones(2), 'old.running_var': torch.ones(2)}
    state['old.num_batches_tracked'] = torch.tensor(3)
    add_num_batches_tracked(state)
    assert state['bn.num_batches_tracked'].item() == 0 and state['old.num_batches_tracked'].item() == 3


def test_deep_stem_rules_with_prefix():
    rules = backbone_rules(deep_stem=True, avg_down=True, split_attention=False, prefix='pretrained.')
    state = {
        'pretrained.conv1.6.weight': torch.zeros(1),
        'pretrained.bn1.weight': torch.zeros(1),
        'pretrained.layer2.0.downsample.1.weight': torch.zeros(1),
    }
    assert convert_keys(state, rules, 'x').state_dict.keys() == {
        'backbone.stem.6.weight',
        'backbone.stem.7.weight',
        'backbone.layer2.0.downsample.1.weight',
    }
    with pytest.raises(ConversionError, match=r'downsample\.0'):
        convert_keys({'pretrained.layer2.0.downsample.0.weight': torch.zeros(1)}, rules, 'x')


def test_move_last_block_first():
    weight = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert move_last_block_first(3)(weight).flatten().tolist() == [4.0, 5.0, 0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ConversionError, match='cannot split 6 input channels into 4'):
        move_last_block_first(4)(weight)


def test_shape_mismatch_is_refused_naming_key():
    converted = {'a.weight': torch.zeros(3, 4), 'b.weight': torch.zeros(2)}
    with pytest.raises(ShapeMismatchError, match=r'a\.weight: converted \(3, 4\) vs model \(4, 3\)'):
        check_against_model(converted, {'a.weight': torch.zeros(4, 3), 'b.weight': torch.zeros(2)})
    missing, unexpected = check_against_model(converted, {'b.weight': torch.zeros(2), 'c.bias': torch.zeros(1)})
    assert (missing, unexpected) == (['c.bias'], ['a.weight'])


@pytest.mark.parametrize('wrapper', [None, 'state_dict', 'model'])
def test_unwrap_state_dict_accepts_wrappers_and_strips_module_prefix(wrapper):
    tensors = {'module.conv.weight': torch.ones(1), 'module.conv.bias': torch.zeros(1)}
    checkpoint = tensors if wrapper is None else {wrapper: tensors, 'meta': {'epoch': 3}}
    state_dict, meta = unwrap_state_dict(checkpoint, 'f.pth')
    assert state_dict.keys() == {'conv.weight', 'conv.bias'}
    assert meta == ({} if wrapper is None else {'epoch': 3})


def test_unwrap_state_dict_refuses_non_tensors():
    with pytest.raises(ConversionError, match=r"f\.pth: expected a state dict of tensors; not tensors: \['step'\]"):
        unwrap_state_dict({'w': torch.ones(1), 'step': 3}, 'f.pth')
    with pytest.raises(ConversionError, match='got list'):
        unwrap_state_dict([1], 'f.pth')
