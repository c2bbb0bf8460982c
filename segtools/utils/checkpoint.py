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
complete or absent; :func:`segtools.utils.resume.find_resumable_checkpoint` also skips pointers to
missing or incomplete files.

Remote schemes: mmengine's loaders for ``http(s)://``, ``torchvision://``, ``open-mmlab://``,
``mmcls://``, ``s3://``/``petrel://`` and ``pavi://`` call ``torch.load`` with its defaults (and
mmengine's ``load_url`` keeps its own cache). :func:`register_safe_loaders` replaces every one of
them: URLs are fetched by :func:`segtools.utils.download.download_file` into
``$SEGTOOLS_HOME/url/<host>/<path>`` (resumable, locked, ``SEGTOOLS_OFFLINE`` aware) and loaded
weights-only; object-store bytes are loaded weights-only; ``pavi://`` is refused. No loading path
left registered ends in a ``torch.load`` without ``weights_only=True``.

Nothing happens at import of this module: the tools call :func:`setup_safe_checkpointing`
(idempotent), and importing :mod:`segtools.models.model_store` (``segtools://``) registers the loaders.
"""

import hashlib
import inspect
import io
import logging
import os.path as osp
import pickle
import types
import urllib.parse
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
from mmengine.runner import checkpoint as mmengine_checkpoint

from segtools.errors import CheckpointError, CheckpointNotFoundError

from .download import cache_dir, download_file
from .fileio import atomic_write_bytes
from .inert_records import load_without_inert_records, only_inert_globals

# Globals allowed in addition to torch's weights-only defaults. Empty: with
# PlainCheckpointStateHook our checkpoints need none (see the module docstring).
SAFE_GLOBALS: tuple[type, ...] = ()

# Name under which AtomicLocalBackend is registered in mmengine's file backends
# (``default_hooks.checkpoint.backend_args=dict(backend=ATOMIC_BACKEND)``).
ATOMIC_BACKEND = 'atomic_local'

# Marks a HistoryBuffer stored as plain data inside ``message_hub.log_scalars``.
_BUFFER_KEY = '__history_buffer__'
_PLAIN_LEAVES = (str, int, float, bool, type(None), torch.Tensor, torch.Size, torch.dtype, torch.device)


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint needs globals outside the allow-list to unpickle (it could run code)."""


class CorruptCheckpointError(CheckpointError, RuntimeError):
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
        raise CheckpointNotFoundError(f'checkpoint {filename} can not be found')
    return load_weights_only(filename, filename, map_location)


def load_weights_only(source: str | io.BytesIO, name: str, map_location: str | torch.device | None = None) -> dict:
    """``torch.load(source, weights_only=True)`` with segtools' errors.

    Args:
        source: A path or an in-memory file.
        name: What to call it in errors (path or URL).
        map_location: Same as :func:`torch.load`.

    A checkpoint written by mmengine itself (an MMSegmentation 1.x run) needs globals only for its
    pickled training records (``message_hub``); those are left out with a log line and the
    weights load (:mod:`segtools.utils.inert_records`: nothing of the file's choosing runs).

    Raises:
        UnsafeCheckpointError: Unpickling needs globals outside the allow-list (named).
        CorruptCheckpointError: Truncated or not a torch checkpoint.
    """
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        try:
            if isinstance(source, io.BytesIO):
                source.seek(0)
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(source)
        except Exception:  # noqa: BLE001 - the listing is a courtesy; the refusal stands
            unsafe = []
        if only_inert_globals(unsafe):
            # mmengine's own training records (MMSegmentation 1.x checkpoints): weights kept, records dropped.
            try:
                checkpoint, dropped = load_without_inert_records(source, map_location)
            except ValueError as inert_error:
                raise UnsafeCheckpointError(f'Refusing to load checkpoint {name}: {inert_error}') from error
            print_log(
                f'checkpoint {name}: left out {len(dropped)} training record(s) that need mmengine/numpy classes '
                f'to unpickle ({", ".join(dropped[:3])}{", ..." if len(dropped) > 3 else ""}); its weights are plain',
                logger='current',
            )
            return checkpoint
        listed = ', '.join(unsafe) if unsafe else 'see the cause below'
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: unpickling it needs globals outside the '
            f'weights-only allow-list ({listed}); such a file can run arbitrary code when loaded. '
            'segtools never loads checkpoints with weights_only=False. Checkpoints written by '
            'tools/train.py need no extra globals; re-save the weights of a file you trust as a plain '
            '{"state_dict": ...} dict of tensors, e.g. python -c "import torch; c = torch.load(\'IN\', '
            "weights_only=False); torch.save({'state_dict': c.get('state_dict', c)}, 'OUT')\"."
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptCheckpointError(f'checkpoint {name} is truncated or not a torch checkpoint ({error})') from error


def url_cache_path(url: str) -> str:
    """Cache path of a URL download: ``$SEGTOOLS_HOME/url/<host>/<path>``.

    URLs with a query, or a path with ``.``/``..``/empty components, go to
    ``url/<sha256(url)[:16]>/<basename>`` instead, so no URL can point outside the cache.
    """
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.split('/')[1:]
    root = cache_dir() / 'url'
    plain = segments and all(seg not in ('', '.', '..') and '\\' not in seg for seg in segments)
    if plain and not parts.query and parts.netloc and parts.netloc not in ('.', '..'):
        return str(root.joinpath(parts.netloc.replace(':', '_'), *segments))
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    basename = next((seg for seg in reversed(segments) if seg not in ('', '.', '..')), 'download')
    return str(root / digest / basename)


def load_from_http_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``http(s)://``: download into the segtools cache (:func:`url_cache_path`), load weights-only.

    Every rank calls it; the download lock makes one process per machine download while the others
    wait. ``SEGTOOLS_OFFLINE=1`` fails at once naming the path to place the file at.
    """
    path = download_file(filename, url_cache_path(filename))
    return load_weights_only(str(path), f'{filename} (cached at {path})', map_location)


def load_from_torchvision_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``torchvision://``/``modelzoo://``: torchvision's URL, then :func:`load_from_http_safe`."""
    name = filename.split('://', 1)[1]
    urls = mmengine_checkpoint.get_torchvision_models()
    if name not in urls:
        raise KeyError(f'{filename}: torchvision has no weights named {name!r}')
    return load_from_http_safe(urls[name], map_location)


def load_from_openmmlab_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``open-mmlab://``/``openmmlab://`` (mmengine's name table), loaded weights-only."""
    name = filename.split('://', 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    urls = mmengine_checkpoint.get_external_models()
    if name not in urls:
        raise KeyError(f'{filename}: mmengine knows no open-mmlab weights named {name!r}')
    url = urls[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http_safe(url, map_location)
    return load_from_local_safe(osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location)


def load_from_mmcls_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``mmcls://`` (mmengine's name table and key processing), loaded weights-only."""
    name = filename.split('://', 1)[1]
    urls = mmengine_checkpoint.get_mmcls_models()
    if name not in urls:
        raise KeyError(f'{filename}: mmengine knows no mmcls weights named {name!r}')
    return mmengine_checkpoint._process_mmcls_checkpoint(load_from_http_safe(urls[name], map_location))


def load_from_ceph_safe(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``s3://``/``petrel://``: the bytes from mmengine's petrel backend, loaded weights-only."""
    backend = mmengine_checkpoint.get_file_backend(filename, backend_args={'backend': 'petrel'})
    with io.BytesIO(backend.get(filename)) as buffer:
        return load_weights_only(buffer, filename, map_location)


def refuse_pavi(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of ``pavi://``: refused (mmengine's loads the download without ``weights_only``)."""
    raise ValueError(
        f'{filename}: segtools does not load pavi:// checkpoints (mmengine loads them without weights_only); '
        'download the file and pass its local path'
    )


# Every scheme mmengine registers, with the weights-only loader that replaces its own.
SAFE_LOADERS = (
    ('', load_from_local_safe),
    (('http://', 'https://'), load_from_http_safe),
    (('modelzoo://', 'torchvision://'), load_from_torchvision_safe),
    (('open-mmlab://', 'openmmlab://'), load_from_openmmlab_safe),
    ('mmcls://', load_from_mmcls_safe),
    ((r'(\S+\:)?s3://', r'(\S+\:)?petrel://'), load_from_ceph_safe),
    ('pavi://', refuse_pavi),
)


def register_safe_loaders() -> None:
    """Replaces every loader of mmengine's ``CheckpointLoader`` by a weights-only one (idempotent).

    A scheme that mmengine registers and segtools does not know (a newer mmengine) could load
    without ``weights_only``: it is replaced by a loader that refuses, naming the scheme.
    """
    for prefixes, loader in SAFE_LOADERS:
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if getattr(loader, '__module__', '').startswith('mmengine'):
            CheckpointLoader.register_scheme(prefixes=prefix, loader=_refuse_unknown_scheme, force=True)


def _refuse_unknown_scheme(filename: str, map_location: str | torch.device | None = None) -> dict:
    raise ValueError(
        f'{filename}: segtools has no weights-only loader for this mmengine checkpoint scheme; '
        'download the file and pass its local path'
    )


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
                level=logging.WARNING,
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
    atomic_write_bytes(filepath, data)


def setup_safe_checkpointing(extra_safe_globals: Iterable[type] = ()) -> None:
    """Makes mmengine load local checkpoints weights-only and offers the atomic backend.

    Registers :func:`load_from_local_safe` as ``CheckpointLoader``'s loader for local paths
    (replacing mmengine's plain ``torch.load``) and weights-only loaders for every remote scheme
    (:func:`register_safe_loaders`, ``segtools://`` included), allow-lists :data:`SAFE_GLOBALS` plus
    ``extra_safe_globals`` after :func:`check_safe_globals`, and registers
    :class:`AtomicLocalBackend` as ``'atomic_local'``. Idempotent.

    Args:
        extra_safe_globals: More plain data classes a user's checkpoints need.
    """
    allowed = [*SAFE_GLOBALS, *extra_safe_globals]
    check_safe_globals(allowed)
    if allowed:
        torch.serialization.add_safe_globals(allowed)
    register_safe_loaders()
    # Importing the model store registers ``segtools://`` (a lazy import: models sit below utils).
    import segtools.models.model_store  # noqa: F401

    if ATOMIC_BACKEND not in registered_backends:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
