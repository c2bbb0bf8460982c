"""Weights-only checkpoint loading: local files, every remote scheme, clear refusals.

torch >= 2.6 unpickles with ``weights_only=True``, which accepts tensors, plain containers and an
allow-list of globals. segtools never loads a checkpoint any other way:

* :func:`load_from_local_safe` loads a local file; :func:`load_weights_only` gives a file that needs
  other globals a clear :class:`UnsafeCheckpointError` (naming them, with a re-save recipe), and a
  truncated file a :class:`CorruptCheckpointError`.
* A checkpoint written by mmengine itself (an MMSegmentation 1.x run) needs globals only for its
  pickled training records (``message_hub``: ``HistoryBuffer`` objects pickled through
  ``builtins.getattr``, numpy arrays and scalars); those are left out with a log line and the weights
  load (:mod:`segtools.weights.inert_records`: nothing of the file's choosing runs).
* Checkpoints written by segtools' runs need no global beyond torch's defaults
  (:class:`segtools.engine.hooks.PlainCheckpointStateHook` stores the message hub as plain data), so
  :data:`SAFE_GLOBALS` is empty; anything added to it must be a plain data class (checked by
  :func:`check_safe_globals`).

Remote schemes: mmengine's loaders for ``http(s)://``, ``torchvision://``, ``open-mmlab://``,
``mmcls://``, ``s3://``/``petrel://`` and ``pavi://`` call ``torch.load`` with its defaults (and
mmengine's ``load_url`` keeps its own cache). The loaders here replace every one of them: URLs are
fetched by :func:`segtools.weights.download.download_file` into ``$SEGTOOLS_HOME/url/<host>/<path>``
(resumable, locked, ``SEGTOOLS_OFFLINE`` aware) and loaded weights-only; object-store bytes are loaded
weights-only; ``pavi://`` is refused. :mod:`segtools.weights.registration` registers them with
mmengine's ``CheckpointLoader``; nothing happens at import of this module.
"""

import hashlib
import inspect
import io
import os.path as osp
import pickle
import types
import urllib.parse
import zipfile
from collections.abc import Iterable

import torch
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mmengine_checkpoint

from segtools.errors import CheckpointError, CheckpointNotFoundError

from .download import cache_dir, download_file
from .inert_records import load_without_inert_records, only_inert_globals

# Globals allowed in addition to torch's weights-only defaults. Empty: with
# PlainCheckpointStateHook our checkpoints need none (see the module docstring).
SAFE_GLOBALS: tuple[type, ...] = ()


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

    Registered by :func:`segtools.weights.registration.register_safe_loaders` as mmengine's loader for local paths, so
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
    weights load (:mod:`segtools.weights.inert_records`: nothing of the file's choosing runs).

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


def refuse_unknown_scheme(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Loader of a scheme mmengine registers that segtools does not know: refused, naming it."""
    raise ValueError(
        f'{filename}: segtools has no weights-only loader for this mmengine checkpoint scheme; '
        'download the file and pass its local path'
    )
