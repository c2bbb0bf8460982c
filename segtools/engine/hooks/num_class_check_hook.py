"""Refuse to train or evaluate a model whose heads predict another number of classes than the data has."""

from mmengine.hooks import Hook
from torch import nn

from segtools.errors import ConfigError
from segtools.registry import HOOKS
from segtools.utils.state_dict_check import unwrap_model


def heads_num_classes(model: nn.Module) -> list[tuple[str, int]]:
    """``(config key, num_classes)`` of every head of ``model`` that declares ``num_classes``.

    Heads are the model's direct children named ``*head`` (``decode_head``, ``auxiliary_head``,
    a classifier's ``head``), or the elements of such a ``ModuleList`` (``auxiliary_head=[...]``);
    backbones keep their own ``num_classes`` (an ImageNet classifier layer, 0 when off).
    """
    found = []
    for name, child in unwrap_model(model).named_children():
        if not name.endswith('head'):
            continue
        members = list(enumerate(child)) if isinstance(child, nn.ModuleList) else [(None, child)]
        for index, head in members:
            num_classes = getattr(head, 'num_classes', None)
            if isinstance(num_classes, int):
                key = f'model.{name}' if index is None else f'model.{name}[{index}]'
                found.append((f'{key}.num_classes', num_classes))
    return found


def check_num_classes(model: nn.Module, dataset, dataset_key: str) -> None:
    """Raises :class:`ConfigError` when a head's ``num_classes`` differs from the dataset's class count.

    Args:
        model: The (possibly wrapped) model.
        dataset: A built dataset; its ``metainfo['classes']`` is the class list (a dataset
            without one is not checked).
        dataset_key: The config key of the dataset, for the message (``train_dataloader.dataset``).
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if not classes:
        return
    for key, num_classes in heads_num_classes(model):
        if num_classes != len(classes):
            raise ConfigError(
                f'{key}={num_classes} but {dataset_key} ({type(dataset).__name__}) has {len(classes)} classes '
                f'({", ".join(map(str, classes[:4]))}{", ..." if len(classes) > 4 else ""}). Set {key}={len(classes)}, '
                f'or give {dataset_key}.metainfo.classes the {num_classes} classes the model predicts.'
            )


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """Checks every head's ``num_classes`` against the datasets before the first sample is used.

    A 5-class model on 12-class data otherwise fails mid-iteration inside the loss ("Target 7
    is out of bounds", a device-side assert on a GPU), and a model with more classes than its
    evaluation data is scored without a word. Runs before training (training and validation
    datasets), before a stand-alone validation and before testing.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        check_num_classes(runner.model, runner.train_dataloader.dataset, 'train_dataloader.dataset')
        if runner.val_loop is not None:
            check_num_classes(runner.model, runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_val(self, runner) -> None:
        # Also for a stand-alone ``Runner.val()``; a second check during training costs nothing.
        check_num_classes(runner.model, runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        check_num_classes(runner.model, runner.test_dataloader.dataset, 'test_dataloader.dataset')
