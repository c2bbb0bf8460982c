"""segtools' weights-only loaders registered with mmengine: the one place that touches ``CheckpointLoader``.

Every checkpoint mmengine loads goes through ``mmengine.runner.CheckpointLoader``, which picks a
loader by the path's prefix: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (``load_checkpoint``),
``load_from`` and ``resume`` through the Runner, ``tools/test.py CONFIG CKPT`` (its ``load_from``),
:func:`segtools.apis.init_model` for URLs and store names, and the model converters' command lines
(which read local files with :func:`~segtools.weights.loading.load_from_local_safe` directly).
mmengine's own loaders call ``torch.load`` with its defaults; this module replaces them:

* :func:`register_safe_loaders` registers, for every scheme mmengine knows (:data:`SAFE_LOADERS`:
  local paths, ``http(s)://``, ``torchvision://``/``modelzoo://``, ``open-mmlab://``/``openmmlab://``,
  ``mmcls://``, ``s3://``/``petrel://``, ``pavi://``), the weights-only loader of
  :mod:`segtools.weights.loading`; a scheme a newer mmengine adds is refused, naming it.
* :func:`register_segtools_scheme` does that and registers ``segtools://<name>``
  (:func:`segtools.weights.store.load_from_segtools`: the manifest's file, verified and converted).
* :func:`setup_safe_checkpointing` (what the tools call) does that, allow-lists
  :data:`~segtools.weights.loading.SAFE_GLOBALS` plus any extra plain data classes, and registers
  :class:`~segtools.weights.saving.AtomicLocalBackend` with mmengine's file backends.

Importing this module (which importing :mod:`segtools.weights` does, and so importing
:mod:`segtools.models`, which a Runner with ``default_scope='segtools'`` or ``custom_imports`` of
segtools does) calls :func:`register_segtools_scheme`, so a plain mmengine Runner loads every checkpoint
weights-only. Every function here is idempotent.
"""

from collections.abc import Iterable

import torch
from mmengine.fileio import register_backend
from mmengine.fileio.backends import backends as registered_backends
from mmengine.runner import CheckpointLoader

from .loading import (
    SAFE_GLOBALS,
    check_safe_globals,
    load_from_ceph_safe,
    load_from_http_safe,
    load_from_local_safe,
    load_from_mmcls_safe,
    load_from_openmmlab_safe,
    load_from_torchvision_safe,
    refuse_pavi,
    refuse_unknown_scheme,
)
from .saving import ATOMIC_BACKEND, AtomicLocalBackend
from .store import SCHEME, load_from_segtools

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
            CheckpointLoader.register_scheme(prefixes=prefix, loader=refuse_unknown_scheme, force=True)


def register_segtools_scheme() -> None:
    """Registers ``segtools://`` and segtools' weights-only loaders with mmengine (idempotent)."""
    register_safe_loaders()
    CheckpointLoader.register_scheme(prefixes=SCHEME, loader=load_from_segtools, force=True)


def setup_safe_checkpointing(extra_safe_globals: Iterable[type] = ()) -> None:
    """Makes mmengine load checkpoints weights-only and offers the atomic backend.

    Registers :func:`~segtools.weights.loading.load_from_local_safe` as ``CheckpointLoader``'s loader
    for local paths (replacing mmengine's plain ``torch.load``) and weights-only loaders for every
    remote scheme, ``segtools://`` included (:func:`register_segtools_scheme`), allow-lists
    :data:`~segtools.weights.loading.SAFE_GLOBALS` plus ``extra_safe_globals`` after
    :func:`~segtools.weights.loading.check_safe_globals`, and registers
    :class:`~segtools.weights.saving.AtomicLocalBackend` as ``'atomic_local'``. Idempotent.

    Args:
        extra_safe_globals: More plain data classes a user's checkpoints need.
    """
    allowed = [*SAFE_GLOBALS, *extra_safe_globals]
    check_safe_globals(allowed)
    if allowed:
        torch.serialization.add_safe_globals(allowed)
    register_segtools_scheme()
    if ATOMIC_BACKEND not in registered_backends:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend)


register_segtools_scheme()
