"""Weights: the manifest of named weights, downloads, weights-only loading, atomic saving, key converters.

One concern in one package, which ``models/`` and ``apis/`` may use and which imports nothing of
``models``, ``apis``, ``engine`` or ``tools``:

* :mod:`.manifest`: :data:`MODEL_STORE`, the named weights (URL, hash, what they fit, how they convert);
* :mod:`.store`: :func:`get_model_file` / :func:`load_pretrained` (cached, verified, converted) and the
  ``segtools://<name>`` loader;
* :mod:`.download`: :func:`download_file` into ``$SEGTOOLS_HOME`` (resumable, locked, offline-aware);
* :mod:`.loading`: weights-only loaders for local files and every remote scheme;
  :mod:`.inert_records` lets mmengine-written checkpoints load without their pickled logs;
* :mod:`.saving`: :class:`AtomicLocalBackend`, mmengine's file backend with atomic writes;
* :mod:`.converters`: checkpoint key conversion from PyTorch-Encoding, torchvision/timm, MMSegmentation;
* :mod:`.registration`: the one module that registers these loaders (``segtools://`` included) with
  mmengine's ``CheckpointLoader``.

Importing this package registers the weights-only loaders (:mod:`.registration`), so every checkpoint an
mmengine Runner loads after it is loaded weights-only; :func:`setup_safe_checkpointing` (what the tools
call) also allow-lists extra plain classes and registers the atomic backend.
"""

from .download import DownloadError, HashMismatchError, OfflineError, cache_dir, download_file
from .loading import CorruptCheckpointError, UnsafeCheckpointError, load_from_local_safe, load_weights_only
from .manifest import MODEL_STORE, ModelEntry, check_manifest, get_entry, list_models
from .registration import register_safe_loaders, register_segtools_scheme, setup_safe_checkpointing
from .saving import ATOMIC_BACKEND, AtomicLocalBackend
from .store import SCHEME, get_model_file, load_pretrained, purge

__all__ = [
    'ATOMIC_BACKEND',
    'MODEL_STORE',
    'SCHEME',
    'AtomicLocalBackend',
    'CorruptCheckpointError',
    'DownloadError',
    'HashMismatchError',
    'ModelEntry',
    'OfflineError',
    'UnsafeCheckpointError',
    'cache_dir',
    'check_manifest',
    'download_file',
    'get_entry',
    'get_model_file',
    'list_models',
    'load_from_local_safe',
    'load_pretrained',
    'load_weights_only',
    'purge',
    'register_safe_loaders',
    'register_segtools_scheme',
    'setup_safe_checkpointing',
]
