"""Safe checkpoint loading and atomic checkpoint writing for mmengine runs.

Loading: torch >= 2.6 unpickles with ``weights_only=True``, which accepts tensors, plain
containers and an allow-list of globals. An mmengine checkpoint as saved holds more than
that, all of it in ``message_hub``:

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
rebuilds the ``HistoryBuffer`` objects on load. After it, our checkpoints need no global
beyond torch's defaults, so :data:`SAFE_GLOBALS` is empty; anything added to it must be a
plain data class (checked by :func:`check_safe_globals`).

Writing: mmengine's ``LocalBackend.put`` opens the final path and writes into it, so a
killed process leaves a truncated ``iter_N.pth`` that ``last_checkpoint`` may already name.
:class:`AtomicLocalBackend` writes a temporary file in the same folder, fsyncs it and
renames it into place (``os.replace`` is atomic on POSIX), so a checkpoint path is either
complete or absent; :func:`find_resumable_checkpoint` also skips pointers to missing or
incomplete files.

Nothing happens at import: the tools call :func:`setup_safe_checkpointing` (idempotent).
"""

import inspect
import os
import os.path as osp
import pickle
import re
import tempfile
import types
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio.backends import backends as registered_backends
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import CheckpointLoader

# Globals allowed in addition to torch's weights-only defaults. Empty: with
# PlainCheckpointStateHook our checkpoints need none (see the module docstring).
SAFE_GLOBALS: tuple[type, ...] = ()

# Name under which AtomicLocalBackend is registered in mmengine's file backends
# (``default_hooks.checkpoint.backend_args=dict(backend=ATOMIC_BACKEND)``).
ATOMIC_BACKEND = 'atomic_local'

# Marks a HistoryBuffer stored as plain data inside ``message_hub.log_scalars``.
_BUFFER_KEY = '__history_buffer__'
_PLAIN_LEAVES = (str, int, float, bool, type(None), torch.Tensor, torch.Size, torch.dtype, torch.device)


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs globals outside the allow-list to unpickle (it could run code)."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated or not a torch checkpoint."""


def check_safe_globals(entries: Iterable[object]) -> None:
    """Rejects allow-list entries that could execute code when unpickled.

    Only classes are accepted, and only data classes: no functions, builtins,
    methods or modules, and no class that defines its own ``__reduce__``/``__reduce_ex__``
    or ``__setstate__`` (those decide what unpickling calls).

    Args:
        entries: Candidate globals for ``torch.serialization.add_safe_globals``.

    Raises:
        TypeError: For the first entry that is not a plain data class, naming it.
    """
    for entry in entries:
        name = getattr(entry, '__qualname__', repr(entry))
        if not inspect.isclass(entry) or isinstance(
            entry, types.BuiltinFunctionType | types.FunctionType | types.MethodType | types.ModuleType
        ):
            raise TypeError(f'safe-globals allow-list: {name} is not a class; callables may never be allow-listed')
        hooks = [attr for attr in ('__reduce__', '__reduce_ex__', '__setstate__') if attr in vars(entry)]
        if hooks:
            raise TypeError(f'safe-globals allow-list: {name} defines {hooks}, which decide what unpickling runs')


def load_from_local_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loads a local checkpoint with ``torch.load(weights_only=True)``.

    Registered by :func:`setup_safe_checkpointing` as mmengine's loader for local paths, so
    ``Runner.resume``, ``Runner.load_checkpoint`` and ``mmengine.runner.load_checkpoint``
    all go through it.

    Args:
        filename: Path of the checkpoint (``~`` is expanded).
        map_location: Same as :func:`torch.load`.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: Unpickling needs globals outside the allow-list (named).
        CorruptCheckpointError: The file is truncated or not a torch checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # noqa: BLE001 - the listing is a courtesy; the refusal stands
            unsafe = []
        listed = ', '.join(unsafe) if unsafe else 'see the cause below'
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: unpickling it needs globals outside the '
            f'weights-only allow-list ({listed}); such a file can run arbitrary code when loaded. '
            'segtools never loads checkpoints with weights_only=False. Checkpoints written by '
            'tools/train.py need no extra globals; re-save the weights of a trusted file as a plain '
            '{"state_dict": ...} dict of tensors.'
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptCheckpointError(
            f'checkpoint {filename} is truncated or not a torch checkpoint ({error})'
        ) from error


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


class PlainCheckpointStateHook(Hook):
    """Stores the message hub as plain data in checkpoints and rebuilds it on load.

    Not in the HOOKS registry: the tools register an instance (``runner.register_hook``)
    right after building the runner, because resume depends on it. Priority
    ``VERY_LOW`` so that it converts after every other hook has added to the checkpoint.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_to_plain(checkpoint['message_hub'])
        checkpoint['meta'] = _plain(checkpoint.get('meta', {}))
        unplain = find_unplain({key: checkpoint[key] for key in ('meta', 'message_hub') if key in checkpoint})
        if unplain:
            print_log(
                f'checkpoint entries {unplain} are not plain data; the checkpoint will be refused by '
                'weights-only loading',
                logger='current',
                level='WARNING',
            )

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_from_plain(checkpoint['message_hub'])


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (temp file, fsync, rename)."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        _atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        _atomic_write(obj.encode(encoding), filepath)


def _atomic_write(data: bytes, filepath: str | Path) -> None:
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        with os.fdopen(handle, 'wb') as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a file with a complete zip directory (torch's format since 1.6)."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``--resume auto`` continues from.

    mmengine's ``last_checkpoint`` pointer when it names a complete file; otherwise (pointer
    missing, empty, or naming a truncated file) the complete ``iter_N.pth``/``epoch_N.pth`` in
    ``work_dir`` with the largest ``N``.

    Args:
        work_dir: The run's work directory.

    Returns:
        The checkpoint path, or None when there is none.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as file:
            named = file.read().strip()
        if named and is_complete_checkpoint(named):
            return named
        print_log(f'{pointer} names {named!r}, which is not a complete checkpoint; searching {work_dir}', 'current')
    if not osp.isdir(work_dir):
        return None
    numbered = []
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', name)
        if match and is_complete_checkpoint(osp.join(work_dir, name)):
            numbered.append((int(match.group(1)), osp.join(work_dir, name)))
    return max(numbered)[1] if numbered else None


def setup_safe_checkpointing(extra_safe_globals: Iterable[type] = ()) -> None:
    """Makes mmengine load local checkpoints weights-only and offers the atomic backend.

    Registers :func:`load_from_local_safe` as ``CheckpointLoader``'s loader for local paths
    (replacing mmengine's plain ``torch.load``), allow-lists :data:`SAFE_GLOBALS` plus
    ``extra_safe_globals`` after :func:`check_safe_globals`, and registers
    :class:`AtomicLocalBackend` as ``'atomic_local'``. Idempotent.

    Args:
        extra_safe_globals: More plain data classes a user's checkpoints need.
    """
    allowed = [*SAFE_GLOBALS, *extra_safe_globals]
    check_safe_globals(allowed)
    if allowed:
        torch.serialization.add_safe_globals(allowed)
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safe, force=True)
    if ATOMIC_BACKEND not in registered_backends:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend)


def register_plain_state_hook(runner) -> PlainCheckpointStateHook:
    """Registers :class:`PlainCheckpointStateHook` on ``runner`` (once); returns the hook."""
    for hook in runner.hooks:
        if isinstance(hook, PlainCheckpointStateHook):
            return hook
    hook = PlainCheckpointStateHook()
    runner.register_hook(hook)
    return hook
