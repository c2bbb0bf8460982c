"""StrictLoadHook: a checkpoint that does not fit the model stops the run before its weights are used."""

import logging
from types import SimpleNamespace

import pytest
from mmengine.model import BaseTTAModel
from torch import nn

from segtools.engine.hooks import CheckpointMismatchError, StrictLoadHook, strict_load_hook
from segtools.errors import CheckpointError
from segtools.registry import MODELS

from ...test_weights.test_converters._mmseg_layout import mmseg_state, small_model_cfg


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


# --- Checkpoints in MMSegmentation's layout -------------------------------------------------------------
def _segmentor(arch: str, **head_updates) -> nn.Module:
    cfg = small_model_cfg(arch)
    cfg['decode_head'].update(head_updates)
    return MODELS.build(cfg)


def _mmseg_checkpoint(arch: str, model: nn.Module, **extra) -> dict:
    return {'state_dict': mmseg_state(arch, model.state_dict()), 'meta': {}, **extra}


def _logged(monkeypatch) -> list[tuple[str, int]]:
    logged = []
    monkeypatch.setattr(
        strict_load_hook, 'print_log', lambda msg, **kwargs: logged.append((msg, kwargs.get('level', logging.INFO)))
    )
    return logged


def test_an_mmseg_checkpoint_that_fits_once_renamed_is_converted_in_place(monkeypatch):
    logged = _logged(monkeypatch)
    model = _segmentor('psp')
    checkpoint = _mmseg_checkpoint('psp', model)
    source = dict(checkpoint['state_dict'])
    runner = SimpleNamespace(model=model, _load_from='mmseg/pspnet.pth')
    StrictLoadHook().after_load_checkpoint(runner, checkpoint)
    assert checkpoint['state_dict'].keys() == model.state_dict().keys()
    assert (
        checkpoint['state_dict']['decode_head.psp.branches.2.conv.conv.weight']
        is (source['decode_head.psp_modules.2.1.conv.weight'])
    )
    # 4 branches x (conv weight + 5 batch-norm tensors) renamed; one INFO line.
    assert logged == [
        (
            "checkpoint mmseg/pspnet.pth is in MMSegmentation's layout: 24 keys renamed to segtools' (the conversion "
            'of tools/model_converters/mmseg2segtools.py --arch psp)',
            logging.INFO,
        )
    ]
    model.load_state_dict(checkpoint['state_dict'])  # what mmengine then does


def test_a_bare_mmseg_state_dict_is_converted_in_place(monkeypatch):
    _logged(monkeypatch)
    model = _segmentor('jpu_psp')
    checkpoint = _mmseg_checkpoint('jpu_psp', model)['state_dict']
    StrictLoadHook().after_load_checkpoint(SimpleNamespace(model=model, _load_from='x.pth'), checkpoint)
    assert checkpoint.keys() == model.state_dict().keys()


def test_a_fitting_checkpoint_is_left_alone(monkeypatch):
    logged = _logged(monkeypatch)
    model = _segmentor('upernet')
    checkpoint = _checkpoint(model)
    state = checkpoint['state_dict']
    StrictLoadHook().after_load_checkpoint(SimpleNamespace(model=model, _load_from='x.pth'), checkpoint)
    assert checkpoint['state_dict'] is state and not logged


def test_an_mmseg_checkpoint_that_fits_neither_way_gets_the_strict_error(monkeypatch):
    logged = _logged(monkeypatch)
    model = _segmentor('psp', num_classes=7)
    checkpoint = _mmseg_checkpoint('psp', _segmentor('psp'))
    keys = list(checkpoint['state_dict'])
    runner = SimpleNamespace(model=model, _load_from='mmseg/ade.pth')
    with pytest.raises(CheckpointMismatchError) as error:
        StrictLoadHook().after_load_checkpoint(runner, checkpoint)
    message = str(error.value)
    assert message.startswith('checkpoint mmseg/ade.pth does not fit the model of this config')
    assert 'decode_head.psp_modules.0.1.conv.weight' in message and '--allow-partial-load' in message
    assert list(checkpoint['state_dict']) == keys and not logged


def test_partial_load_uses_the_renamed_weights_when_fewer_keys_differ(monkeypatch):
    """Fine-tuning an mmseg model on another class count: only the classifiers stay initialised."""
    logged = _logged(monkeypatch)
    model = _segmentor('psp', num_classes=7)
    checkpoint = _mmseg_checkpoint('psp', _segmentor('psp'))
    StrictLoadHook(allow_partial_load=True).after_load_checkpoint(
        SimpleNamespace(model=model, _load_from='x'), checkpoint
    )
    assert checkpoint['state_dict'].keys() == model.state_dict().keys()
    assert [level for _, level in logged] == [logging.INFO, logging.WARNING]
    assert "MMSegmentation's layout" in logged[0][0]
    assert '2 with another shape: decode_head.conv_seg.weight (5, 16, 1, 1) in the checkpoint' in logged[1][0]


def test_resume_needs_mmsegs_parameter_order(monkeypatch):
    _logged(monkeypatch)
    psp = _segmentor('psp')
    runner = SimpleNamespace(model=psp, _load_from='psp.pth', _resume=True)
    checkpoint = _mmseg_checkpoint('psp', psp, optimizer={'state': {}, 'param_groups': []})
    StrictLoadHook().after_load_checkpoint(runner, checkpoint)
    assert checkpoint['state_dict'].keys() == psp.state_dict().keys()
    # DANet's position attention registers its projections and gamma in another order than mmseg's.
    danet = _segmentor('danet')
    runner = SimpleNamespace(model=danet, _load_from='danet.pth', _resume=True)
    checkpoint = _mmseg_checkpoint('danet', danet, optimizer={'state': {}, 'param_groups': []})
    with pytest.raises(CheckpointMismatchError, match=r"danet\.pth is in MMSegmentation's layout.*cannot be resumed"):
        StrictLoadHook().after_load_checkpoint(runner, checkpoint)
    runner._resume = False  # load_from: the weights alone are converted
    StrictLoadHook().after_load_checkpoint(runner, checkpoint)
    assert checkpoint['state_dict']['decode_head.pam.gamma'].shape == (1,)
