"""Named pretrained weights on disk: ``get_model_file``, ``load_pretrained`` and the ``segtools://`` loader.

``get_model_file('resnest101')`` returns the cached path of the weights of a manifest name
(:mod:`segtools.weights.manifest`), downloading and verifying them on first use
(:func:`segtools.weights.download.download_file`: cache ``$SEGTOOLS_HOME/models``, default
``~/.cache/segtools/models``; ``SEGTOOLS_OFFLINE=1`` fails at once naming the file to place by hand).
Nothing is downloaded unless a config or a call asks for it.

In a config, ``init_cfg=dict(type='Pretrained', checkpoint='segtools://resnest101')`` goes through
mmengine's ``CheckpointLoader`` to :func:`load_from_segtools`, which returns
``{'state_dict': ..., 'meta': ...}`` with segtools' key names: an entry whose ``convert`` names a
conversion (``'encoding:resnest101'``, see :mod:`segtools.weights.converters`) is converted on load
(:func:`load_pretrained`), so an entry loads into the model its ``fits`` names with no missing key.
:mod:`segtools.weights.registration` registers that loader for ``segtools://`` (importing
:mod:`segtools.weights` does), so it works under a plain mmengine Runner.

Mirrors: the ``ENCODING_REPO`` environment variable replaces the base URL of PyTorch-Encoding's
entries as that project does. ``SEGTOOLS_MIRROR`` (a base URL) replaces scheme and host of every
manifest URL, keeping the path: ``https://s3.us-west-1.wasabisys.com/encoding/models/x.zip`` with
``SEGTOOLS_MIRROR=http://m/pre`` is fetched as ``http://m/pre/encoding/models/x.zip``; only the mirror
is tried then, and it wins when both are set (:func:`entry_urls`). A zip's ``.pth`` is checked against
the entry's hash before it is renamed into the cache.
"""

import os
import shutil
from pathlib import Path

from .converters import convert_state_dict, unwrap_state_dict
from .download import ENV_MIRROR, apply_mirror, cache_dir, download_file
from .loading import load_from_local_safe
from .manifest import ENCODING_REPO_ENV, MODEL_STORE, ModelEntry, encoding_url, get_entry

SCHEME = 'segtools://'


def models_dir(root: str | Path | None = None) -> Path:
    """Where the named weights are cached: ``root`` or ``$SEGTOOLS_HOME/models``."""
    return Path(os.path.expanduser(str(root))) if root is not None else cache_dir() / 'models'


def entry_urls(entry: ModelEntry) -> list[str]:
    """The URLs to fetch for ``entry`` after ``SEGTOOLS_MIRROR`` / ``ENCODING_REPO`` (module docstring)."""
    mirror = os.environ.get(ENV_MIRROR)
    if mirror:
        return [apply_mirror(url, mirror) for url in entry.urls]
    repo = os.environ.get(ENCODING_REPO_ENV)
    if repo and entry.source == 'pytorch-encoding' and entry.urls:
        return [encoding_url(entry.file_stem, entry.sha1, repo)]
    return list(entry.urls)


def get_model_file(name: str, root: str | Path | None = None, **download_kwargs) -> Path:
    """Path of the named weights, downloaded and verified into the cache on first use.

    Args:
        name: A manifest name (see :func:`~segtools.weights.manifest.list_models`).
        root: Cache folder instead of ``$SEGTOOLS_HOME/models``.
        **download_kwargs: Passed to :func:`~segtools.weights.download.download_file`
            (``retries``, ``backoff``, ``timeout``, ``progress``).

    Returns:
        The local ``.pth`` path.

    Raises:
        KeyError: Unknown name (closest matches listed).
        FileNotFoundError: No URL is known and the file was not placed by hand (its path is named).
        segtools.weights.download.DownloadError: Offline, wrong hash, or every URL failed.
    """
    entry = get_entry(name)
    dest = models_dir(root) / entry.filename
    urls = entry_urls(entry)
    if not urls and not dest.is_file():
        raise FileNotFoundError(
            f'{entry.name}: {entry.note or "no download URL is recorded"}. Place the weights (for {entry.fits}) at '
            f'{dest} by hand, or use a local checkpoint path instead of {SCHEME}{entry.name}'
        )
    hashes = dict(sha256=entry.sha256, sha1=entry.sha1)
    return download_file(urls, dest, unzip=entry.unzip, **hashes, **download_kwargs)


def purge(root: str | Path | None = None) -> list[Path]:
    """Deletes the cached weights (``*.pth`` and partial downloads) of the manifest's names.

    Args:
        root: Cache folder instead of ``$SEGTOOLS_HOME/models``.

    Returns:
        The paths deleted.
    """
    folder = models_dir(root)
    if not folder.is_dir():
        return []
    names = {entry.filename for entry in MODEL_STORE.values()}
    removed = []
    for path in sorted(folder.iterdir()):
        base = path.name.removesuffix('.part').removesuffix('.extract').removesuffix('.lock')
        if base in names:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(path)
    return removed


def load_pretrained(name: str, root: str | Path | None = None, map_location=None, **download_kwargs) -> dict:
    """The named weights with segtools' key names, ready for ``load_state_dict``.

    Downloads and verifies the file on first use (:func:`get_model_file`), loads it weights-only,
    then applies the entry's ``convert`` spec (keys renamed, classifiers dropped).

    Args:
        name: A manifest name (see :func:`~segtools.weights.manifest.list_models`).
        root: Cache folder instead of ``$SEGTOOLS_HOME/models``.
        map_location: Same as :func:`torch.load`.
        **download_kwargs: Passed to :func:`~segtools.weights.download.download_file`.

    Returns:
        ``{'state_dict': {key: tensor}, 'meta': {'name', 'source', 'convert', 'file', 'dropped',
        'src_meta'}}``; ``dropped`` lists the source keys the conversion removed.

    Raises:
        KeyError: Unknown name, or an unknown conversion spec in its entry.
        segtools.weights.loading.UnsafeCheckpointError: The file needs code-running globals.
        segtools.weights.converters.ConversionError: A key of the file has no conversion rule.
    """
    entry = get_entry(name)
    path = get_model_file(entry.name, root, **download_kwargs)
    state_dict, src_meta = unwrap_state_dict(load_from_local_safe(str(path), map_location=map_location), str(path))
    dropped: list[str] = []
    if entry.convert is not None:
        conversion = convert_state_dict(state_dict, entry.convert)
        state_dict, dropped = conversion.state_dict, conversion.dropped
    meta = dict(
        name=entry.name, source=entry.source, convert=entry.convert, file=str(path), dropped=dropped, src_meta=src_meta
    )
    return {'state_dict': state_dict, 'meta': meta}


def load_from_segtools(filename: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` loader of ``segtools://<name>``: verified file, converted keys."""
    return load_pretrained(filename[len(SCHEME) :], map_location=map_location)
