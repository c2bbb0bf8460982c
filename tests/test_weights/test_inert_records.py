"""Checkpoints written by mmengine itself: weights load weights-only, pickled training records are left out."""

import os

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from segtools.weights.inert_records import INERT_GLOBALS, Inert, only_inert_globals
from segtools.weights.loading import UnsafeCheckpointError, load_from_local_safe


def _mmengine_checkpoint(extra: dict | None = None) -> dict:
    """What mmengine's Runner.save_checkpoint writes, without segtools' plain message hub."""
    hub = MessageHub.get_instance('test_inert_records')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 1.25)
    hub.update_info('iter', 4)
    hub.update_info('eta', np.float64(12.5))
    checkpoint = {
        'meta': {'iter': 4, 'seed': 3, 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': {'conv.weight': torch.arange(6.0).reshape(2, 3), 'conv.bias': torch.ones(2)},
        'message_hub': hub.state_dict(),
        'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]},
    }
    checkpoint.update(extra or {})
    return checkpoint


def test_weights_load_and_the_records_are_left_out(tmp_path):
    path = tmp_path / 'mmseg_run.pth'
    torch.save(_mmengine_checkpoint(), path)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert 'builtins.getattr' in unsafe and only_inert_globals(unsafe)
    loaded = load_from_local_safe(str(path))
    torch.testing.assert_close(loaded['state_dict'], _mmengine_checkpoint()['state_dict'], rtol=0, atol=0)
    assert loaded['meta'] == {'iter': 4, 'seed': 3, 'dataset_meta': {'classes': ('a', 'b')}}
    hub = loaded['message_hub']
    assert dict(hub['log_scalars']) == {} and dict(hub['runtime_info']) == {'iter': 4}
    assert loaded['optimizer']['param_groups'][0]['lr'] == 0.1
    # What comes out is plain again: nothing of the stand-ins is left anywhere.
    assert not any(isinstance(v, Inert) for v in _walk(loaded))


def _walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)


def test_weights_that_need_a_stand_in_are_refused(tmp_path):
    path = tmp_path / 'numpy_weights.pth'
    torch.save(_mmengine_checkpoint({'state_dict': {'conv.weight': np.ones((2, 3))}}), path)
    with pytest.raises(UnsafeCheckpointError, match=r'its weights are not plain tensors: \[\'state_dict\.conv\.weight'):
        load_from_local_safe(str(path))


def test_any_other_global_still_refuses_the_whole_file(tmp_path):
    marker = tmp_path / 'pwned'

    class RunsCode:
        def __reduce__(self):
            return os.system, (f'touch {marker}',)

    path = tmp_path / 'evil.pth'
    torch.save(_mmengine_checkpoint({'meta': {'note': RunsCode()}}), path)
    assert not only_inert_globals(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    with pytest.raises(UnsafeCheckpointError, match='Refusing to load checkpoint'):
        load_from_local_safe(str(path))
    assert not marker.exists()


def test_stand_ins_accept_anything_and_keep_nothing():
    inert = Inert(print, 'x', key=1)
    inert.__setstate__({'a': 1})
    assert vars(inert) == {}
    assert not only_inert_globals([]) and not only_inert_globals(['builtins.eval'])
    assert only_inert_globals(INERT_GLOBALS)
