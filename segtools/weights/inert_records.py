"""Weights of checkpoints written by mmengine (MMSegmentation 1.x runs), without their pickled logs.

mmengine's checkpoints store the runner's message hub as it is: ``HistoryBuffer`` objects whose
statistics methods pickle as ``builtins.getattr(HistoryBuffer, 'mean')``, numpy arrays and numpy
scalars. ``torch.load(weights_only=True)`` rightly refuses those globals (``getattr`` alone would
reopen arbitrary code execution), so such a file, e.g. any checkpoint an mmseg user trained, would
be refused as a whole although its weights are plain tensors.

:func:`load_without_inert_records` loads it weights-only with each of the names in
:data:`INERT_GLOBALS` bound to :class:`Inert`, a class that accepts any arguments and state and
does nothing: no code of the file's choosing runs, not even the real ``getattr`` or numpy's
reconstructors. Every value that unpickled to an ``Inert`` is then left out of the checkpoint
(log history, numpy scalars such as the ETA); weights that would need one are refused. Any
global outside :data:`INERT_GLOBALS` still makes the whole file refused by the caller
(:func:`segtools.weights.loading.load_weights_only`, its only user).
"""

import io
from collections.abc import Iterable

import torch

# Globals of mmengine's training records (message hub) that stand-ins replace.
INERT_GLOBALS = (
    'builtins.getattr',
    'mmengine.logging.history_buffer.HistoryBuffer',
    'numpy.ndarray',
    'numpy.dtype',
    'numpy._core.multiarray._reconstruct',
    'numpy.core.multiarray._reconstruct',
    'numpy._core.multiarray.scalar',
    'numpy.core.multiarray.scalar',
)
# Checkpoint entries that must come out whole: the model's weights.
WEIGHT_KEYS = ('state_dict', 'model')


class Inert:
    """What a global of :data:`INERT_GLOBALS` unpickles to: takes any arguments and state, keeps nothing."""

    def __new__(cls, *args, **kwargs) -> 'Inert':
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def only_inert_globals(unsafe: Iterable[str]) -> bool:
    """Whether every global a weights-only load refused is one :func:`load_without_inert_records` replaces."""
    unsafe = list(unsafe)
    return bool(unsafe) and all(name in INERT_GLOBALS for name in unsafe)


def load_without_inert_records(
    source: str | io.BytesIO, map_location: str | torch.device | None = None
) -> tuple[dict, list[str]]:
    """Loads a checkpoint weights-only with :class:`Inert` stand-ins, then drops what they stood for.

    Args:
        source: A path or an in-memory file (rewound first).
        map_location: Same as :func:`torch.load`.

    Returns:
        ``(checkpoint, dropped)``: the checkpoint without any value that needed a stand-in, and
        the paths of those values (``message_hub.log_scalars.train/loss``, ...).

    Raises:
        ValueError: The weights themselves (``state_dict``/``model``) needed a stand-in.
    """
    if isinstance(source, io.BytesIO):
        source.seek(0)
    with torch.serialization.safe_globals([(Inert, name) for name in INERT_GLOBALS]):
        loaded = torch.load(source, map_location=map_location, weights_only=True)
    dropped: list[str] = []
    cleaned = _drop_inert(loaded, '', dropped)
    bad = [path for path in dropped if path.split('.', 1)[0] in WEIGHT_KEYS]
    if bad or isinstance(cleaned, Inert):
        raise ValueError(f'its weights are not plain tensors: {bad[:5] or ["<the whole file>"]}')
    return cleaned, dropped


def _drop_inert(value: object, path: str, dropped: list[str]) -> object:
    """``value`` with every :class:`Inert` (and container entry holding one) removed; paths into ``dropped``."""
    if isinstance(value, dict):
        kept = type(value)()
        for key, item in value.items():
            item_path = f'{path}.{key}' if path else str(key)
            if isinstance(item, Inert):
                dropped.append(item_path)
                continue
            kept[key] = _drop_inert(item, item_path, dropped)
        return kept
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            if isinstance(item, Inert):
                dropped.append(f'{path}[{index}]')
                continue
            items.append(_drop_inert(item, f'{path}[{index}]', dropped))
        return type(value)(items)
    return value


__all__ = ['INERT_GLOBALS', 'Inert', 'load_without_inert_records', 'only_inert_globals']
