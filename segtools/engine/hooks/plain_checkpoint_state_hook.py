"""Checkpoints whose message hub is plain data, so that they load with ``weights_only=True``.

An mmengine checkpoint as saved holds more than ``torch.load(weights_only=True)`` accepts, all of it
in ``message_hub``:

* ``log_scalars``: ``mmengine.logging.history_buffer.HistoryBuffer`` objects whose
  ``statistics_methods`` dict pickles as ``__builtin__.getattr(HistoryBuffer, 'mean')``
  (so they can never be allow-listed safely: ``getattr`` reopens code execution) and
  whose histories are ``numpy.ndarray`` (``numpy._core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.dtype``);
* ``runtime_info['eta']``: a numpy scalar (``numpy._core.multiarray.scalar``, ``numpy.dtype``).

``meta``, ``state_dict``, ``optimizer`` and ``param_schedulers`` need only what torch already
allows (``collections.OrderedDict``, tensor rebuilders, ``_codecs.encode``). Rather than
allow-listing numpy's reconstruction functions and a class whose state holds ``getattr``,
:class:`PlainCheckpointStateHook` stores the message hub as tensors and python scalars and
rebuilds the ``HistoryBuffer`` objects on load. After it, our checkpoints need no global beyond
torch's defaults (:data:`segtools.weights.loading.SAFE_GLOBALS` is empty).
"""

import logging

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log

from segtools.registry import HOOKS

# Marks a HistoryBuffer stored as plain data inside ``message_hub.log_scalars``.
_BUFFER_KEY = '__history_buffer__'
_PLAIN_LEAVES = (str, int, float, bool, type(None), torch.Tensor, torch.Size, torch.dtype, torch.device)


def _plain(value: object) -> object:
    """Numpy values become tensors or python scalars; containers are converted recursively."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((key, _plain(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    return value


def message_hub_to_plain(state: dict) -> dict:
    """Message-hub state with every ``HistoryBuffer`` and numpy value made plain.

    Args:
        state: ``MessageHub.state_dict()`` (``log_scalars``, ``runtime_info``, ``resumed_keys``).

    Returns:
        A new dict; each buffer becomes ``{'__history_buffer__': True, 'log_history':
        float64 tensor (L,), 'count_history': int64 tensor (L,), 'max_length': int}``.
    """
    plain = dict(state)
    scalars = type(state['log_scalars'])()
    for key, buffer in state['log_scalars'].items():
        if isinstance(buffer, HistoryBuffer):
            logs, counts = buffer.data
            buffer = {
                _BUFFER_KEY: True,
                'log_history': torch.from_numpy(np.asarray(logs, dtype=np.float64).copy()),
                'count_history': torch.from_numpy(np.asarray(counts, dtype=np.int64).copy()),
                'max_length': int(buffer.max_length),
            }
        scalars[key] = buffer
    plain['log_scalars'] = scalars
    plain['runtime_info'] = _plain(state['runtime_info'])
    return plain


def message_hub_from_plain(state: dict) -> dict:
    """Inverse of :func:`message_hub_to_plain` (states without plain buffers pass unchanged)."""
    restored = dict(state)
    scalars = type(state['log_scalars'])()
    for key, buffer in state['log_scalars'].items():
        if isinstance(buffer, dict) and buffer.get(_BUFFER_KEY):
            buffer = HistoryBuffer(
                buffer['log_history'].numpy().tolist(),
                buffer['count_history'].numpy().tolist(),
                buffer['max_length'],
            )
        scalars[key] = buffer
    restored['log_scalars'] = scalars
    return restored


def find_unplain(value: object, path: str = '') -> list[str]:
    """Paths of values a weights-only load would refuse (anything but containers and leaves)."""
    if isinstance(value, _PLAIN_LEAVES):
        return []
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in find_unplain(item, f'{path}.{key}' if path else str(key))]
    if isinstance(value, list | tuple | set):
        return [bad for i, item in enumerate(value) for bad in find_unplain(item, f'{path}[{i}]')]
    return [f'{path} ({type(value).__module__}.{type(value).__qualname__})']


@HOOKS.register_module()
class PlainCheckpointStateHook(Hook):
    """Stores the message hub as plain data in checkpoints and rebuilds it on load.

    A config need not list it: the tools register an instance
    (:func:`segtools.utils.run_hooks.register_run_hooks`) right after building the runner, because
    resume depends on it. Priority ``VERY_LOW`` so that it converts after every other hook has added
    to the checkpoint.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Makes ``message_hub`` and ``meta`` plain data; warns naming any entry that is still not."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_to_plain(checkpoint['message_hub'])
        checkpoint['meta'] = _plain(checkpoint.get('meta', {}))
        unplain = find_unplain({key: checkpoint[key] for key in ('meta', 'message_hub') if key in checkpoint})
        if unplain:
            print_log(
                f'checkpoint entries {unplain} are not plain data; the checkpoint will be refused by '
                'weights-only loading',
                logger='current',
                level=logging.WARNING,
            )

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rebuilds the ``HistoryBuffer`` objects of a plain ``message_hub``."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_from_plain(checkpoint['message_hub'])
