"""StrictLoadHook: a checkpoint that does not fit the model stops the run before its weights are used."""

import logging
from types import SimpleNamespace

import pytest
from mmengine.model import BaseTTAModel
from torch import nn

from segtools.engine.hooks import CheckpointMismatchError, StrictLoadHook, strict_load_hook
from segtools.errors import CheckpointError


class _Net(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.cls = nn.Conv2d(4, classes, 1)


def _checkpoint(model: nn.Module, prefix: str = '') -> dict:
    return {'state_dict': {prefix + key: value for key, value in model.state_dict().items()}, 'meta': {}}


def test_a_fitting_checkpoint_passes_also_from_ddp_and_without_bn_counters():
    model = _Net()
    runner = SimpleNamespace(model=model, _load_from='run/iter_4.pth')
    StrictLoadHook().after_load_checkpoint(runner, _checkpoint(model))
    StrictLoadHook().after_load_checkpoint(runner, _checkpoint(model, prefix='module.'))
    old = _checkpoint(model)
    del old['state_dict']['bn.num_batches_tracked']  # as mmengine, a missing counter is no mismatch
    StrictLoadHook().after_load_checkpoint(runner, old)
    # A bare state dict (no 'state_dict' key) is what mmengine loads too.
    StrictLoadHook().after_load_checkpoint(runner, dict(model.state_dict()))


def test_another_class_count_is_refused_naming_file_key_and_shapes():
    runner = SimpleNamespace(model=_Net(classes=5), _load_from='work/iter_4.pth')
    with pytest.raises(CheckpointMismatchError) as error:
        StrictLoadHook().after_load_checkpoint(runner, _checkpoint(_Net(classes=12)))
    message = str(error.value)
    assert isinstance(error.value, CheckpointError)
    assert 'work/iter_4.pth' in message and 'cls.weight (12, 4, 1, 1) in the checkpoint vs (5, 4, 1, 1)' in message
    assert '--allow-partial-load' in message


def test_missing_and_unexpected_keys_are_refused():
    runner = SimpleNamespace(model=_Net(), _load_from='x.pth')
    renamed = {'state_dict': {f'backbone.{key}': value for key, value in _Net().state_dict().items()}}
    with pytest.raises(
        CheckpointMismatchError, match=r'missing from the checkpoint: conv\.weight.*\n.*not in the model'
    ):
        StrictLoadHook().after_load_checkpoint(runner, renamed)


def test_partial_load_on_request_only_warns(monkeypatch):
    logged = []
    monkeypatch.setattr(strict_load_hook, 'print_log', lambda msg, **kwargs: logged.append((msg, kwargs['level'])))
    runner = SimpleNamespace(model=_Net(classes=5), _load_from='x.pth')
    StrictLoadHook(allow_partial_load=True).after_load_checkpoint(runner, _checkpoint(_Net(classes=12)))
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert 'loading only the matching weights of x.pth' in logged[0][0] and 'cls.weight (12, 4, 1, 1)' in logged[0][0]


def test_tta_and_wrapped_models_are_compared_by_their_inner_model():
    class _TTA(BaseTTAModel):
        def merge_preds(self, data_samples_list):
            return data_samples_list

    class _Segmentor(_Net):
        def test_step(self, data):
            return data

    inner = _Segmentor()
    runner = SimpleNamespace(model=_TTA(module=inner), _load_from='x.pth')
    StrictLoadHook().after_load_checkpoint(runner, _checkpoint(inner))
    with pytest.raises(CheckpointMismatchError):
        StrictLoadHook().after_load_checkpoint(runner, _checkpoint(_Net(classes=4)))
