"""NumClassCheckHook: heads' num_classes against the datasets' class lists, naming both config keys."""

from types import SimpleNamespace

import pytest
from torch import nn

from segtools.engine.hooks import NumClassCheckHook
from segtools.engine.hooks.num_class_check_hook import check_num_classes, heads_num_classes
from segtools.errors import ConfigError


class _Head(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes


class _Segmentor(nn.Module):
    def __init__(self, decode: int, aux: list[int]) -> None:
        super().__init__()
        self.backbone = _Head(0)  # a backbone's own num_classes (its ImageNet classifier) is not a head's
        self.decode_head = _Head(decode)
        self.auxiliary_head = nn.ModuleList(_Head(n) for n in aux)


def _dataset(n: int) -> SimpleNamespace:
    return SimpleNamespace(metainfo=dict(classes=tuple(f'c{i}' for i in range(n))))


def test_heads_are_found_with_their_config_keys():
    model = _Segmentor(12, [12, 5])
    assert heads_num_classes(model) == [
        ('model.decode_head.num_classes', 12),
        ('model.auxiliary_head[0].num_classes', 12),
        ('model.auxiliary_head[1].num_classes', 5),
    ]


def test_mismatch_names_both_keys_and_counts():
    with pytest.raises(ConfigError) as error:
        check_num_classes(_Segmentor(5, []), _dataset(12), 'train_dataloader.dataset')
    message = str(error.value)
    assert 'model.decode_head.num_classes=5' in message and 'train_dataloader.dataset' in message
    assert '12 classes (c0, c1, c2, c3, ...)' in message
    with pytest.raises(ConfigError, match=r'model\.auxiliary_head\[1\]\.num_classes=5'):
        check_num_classes(_Segmentor(12, [12, 5]), _dataset(12), 'val_dataloader.dataset')
    check_num_classes(_Segmentor(12, [12]), _dataset(12), 'train_dataloader.dataset')
    check_num_classes(_Segmentor(5, []), SimpleNamespace(metainfo={}), 'test_dataloader.dataset')  # no class list


def test_hook_checks_train_val_and_test_datasets():
    runner = SimpleNamespace(
        model=_Segmentor(12, []),
        train_dataloader=SimpleNamespace(dataset=_dataset(12)),
        val_dataloader=SimpleNamespace(dataset=_dataset(5)),
        test_dataloader=SimpleNamespace(dataset=_dataset(12)),
        val_loop=object(),
    )
    hook = NumClassCheckHook()
    with pytest.raises(ConfigError, match='val_dataloader.dataset'):
        hook.before_train(runner)
    with pytest.raises(ConfigError, match='val_dataloader.dataset'):
        hook.before_val(runner)
    hook.before_test(runner)
    runner.val_loop = None
    hook.before_train(runner)
