"""RandomStateHook: global random states through a weights-only checkpoint, restored where resume needs them."""

import io
import random
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.runner import IterBasedTrainLoop

from segtools.engine.hooks import RandomStateHook, get_random_state, set_random_state


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.randn(), random.random(), random.gauss(0, 1)


def test_states_round_trip_through_a_weights_only_checkpoint():
    np.random.randn()  # leaves a cached gaussian in numpy's legacy state
    random.gauss(0, 1)  # and one in Python's
    buffer = io.BytesIO()
    torch.save({'random_state': get_random_state()}, buffer)
    expected = _draws()
    _draws()  # move every generator on
    buffer.seek(0)
    set_random_state(torch.load(buffer, weights_only=True)['random_state'])
    assert _draws() == expected


def _runner(iteration: int, iter_based: bool = True) -> SimpleNamespace:
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop) if iter_based else SimpleNamespace()
    return SimpleNamespace(iter=iteration, epoch=0 if iter_based else iteration, train_loop=loop)


def test_resume_restores_after_the_data_loader_was_advanced():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(_runner(4), checkpoint)
    expected = _draws()
    hook.after_load_checkpoint(_runner(4), checkpoint)
    runner = _runner(4)
    hook.before_train_epoch(runner)  # iteration-based: mmengine advances the loader after this
    _draws()  # what advancing the loader may draw
    hook.before_train_iter(runner, batch_idx=4)
    assert _draws() == expected
    # Once only: later iterations draw on.
    hook.before_train_iter(runner, batch_idx=5)
    assert _draws() != expected


def test_epoch_based_resume_restores_at_the_epoch_start():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(_runner(2, iter_based=False), checkpoint)
    expected = _draws()
    hook.after_load_checkpoint(None, checkpoint)
    hook.before_train_epoch(_runner(2, iter_based=False))
    assert _draws() == expected


def test_loading_weights_for_a_new_run_keeps_its_seed():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(_runner(8), checkpoint)
    _draws()
    torch.manual_seed(0)
    expected = torch.rand(3).tolist()
    torch.manual_seed(0)
    hook.after_load_checkpoint(None, checkpoint)
    hook.before_train_iter(_runner(0), batch_idx=0)
    assert torch.rand(3).tolist() == expected
    # A checkpoint from before RandomStateHook existed has no states: nothing to restore.
    hook.after_load_checkpoint(None, {})
    hook.before_train_iter(_runner(3), batch_idx=3)


def test_validation_does_not_move_the_training_generators():
    hook = RandomStateHook()
    runner = _runner(4)
    hook.before_val(runner)
    expected = _draws()
    hook.after_val(runner)
    assert _draws() == expected
