"""PlainCheckpointStateHook's conversions: a message hub stored as plain data loads weights-only and comes back."""

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from segtools.engine.hooks.plain_checkpoint_state_hook import find_unplain, message_hub_from_plain, message_hub_to_plain
from segtools.weights.loading import load_from_local_safe


def message_hub_state() -> dict:
    """A message hub's state dict with numpy scalars and history buffers (not weights-only loadable)."""
    hub = MessageHub(name='test_checkpoint_hub')
    for value in (3.0, 2.0, 1.5):
        hub.update_scalar('train/loss', value)
    hub.update_info('eta', np.float64(12.5))
    hub.update_info('iter', 7)
    return hub.state_dict()


def test_plain_message_hub_round_trip_loads_weights_only(tmp_path):
    state = message_hub_state()
    plain = message_hub_to_plain(state)
    assert find_unplain(plain) == []
    assert plain['runtime_info']['eta'] == 12.5 and type(plain['runtime_info']['eta']) is float

    path = tmp_path / 'plain.pth'
    torch.save({'message_hub': plain}, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
    loaded = load_from_local_safe(str(path))
    restored = message_hub_from_plain(loaded['message_hub'])
    buffer = restored['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    expected_logs, expected_counts = state['log_scalars']['train/loss'].data
    np.testing.assert_array_equal(buffer.data[0], expected_logs)
    np.testing.assert_array_equal(buffer.data[1], expected_counts)
    assert buffer.mean() == pytest.approx(np.mean(expected_logs))
    assert buffer.current() == 1.5
    MessageHub(name='test_checkpoint_hub_restored').load_state_dict(restored)


def test_hook_is_registered_under_its_class_name():
    from segtools.engine.hooks import PlainCheckpointStateHook
    from segtools.registry import HOOKS

    assert HOOKS.get('PlainCheckpointStateHook') is PlainCheckpointStateHook
