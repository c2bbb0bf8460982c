"""Named pretrained weights: a manifest, ``get_model_file`` and the ``segtools://`` checkpoint scheme.

``get_model_file('resnest101')`` returns the cached path of the weights, downloading and verifying
them on first use (:func:`segtools.utils.download.download_file`: cache ``$SEGTOOLS_HOME/models``,
default ``~/.cache/segtools/models``; ``SEGTOOLS_OFFLINE=1`` fails at once naming the file to place
by hand). Nothing is downloaded unless a config or a call asks for it.

In a config, ``init_cfg=dict(type='Pretrained', checkpoint='segtools://resnest101')`` goes through
mmengine's ``CheckpointLoader``, which gets ``{'state_dict': ..., 'meta': ...}`` with segtools' key
names: an entry whose ``convert`` names a conversion (``'encoding:resnest101'``, see
:mod:`segtools.models.converters`) is converted on load (:func:`load_pretrained`), so a backbone
entry loads into the backbone its ``fits`` names with no missing key. Importing this module (which
``segtools.models`` does) registers the ``segtools://`` scheme and segtools' weights-only loaders for
every other scheme (:func:`segtools.utils.checkpoint.register_safe_loaders`), so it works under a
plain mmengine Runner.

URLs: ``SEGTOOLS_MIRROR`` (a base URL) replaces scheme and host of every manifest URL, keeping the
path: ``https://s3.us-west-1.wasabisys.com/encoding/models/x.zip`` with ``SEGTOOLS_MIRROR=
http://m/pre`` is fetched as ``http://m/pre/encoding/models/x.zip``; only the mirror is tried then.
For PyTorch-Encoding's entries (``source='pytorch-encoding'``) ``ENCODING_REPO`` is honoured as that
project does: ``{ENCODING_REPO}/models/{name}-{sha1[:8]}.zip`` (``SEGTOOLS_MIRROR`` wins when both are
set).

Hashes: PyTorch-Encoding publishes the first 8 hex digits of each file's sha1 (in its file names),
OpenMMLab the first 8 of its sha256 (``resnet50_v1c-2cccc1ad.pth``); those entries verify that
prefix only, a 32-bit check that catches corruption but is weaker than the full sha256 a new entry
should record. Names whose hash upstream publishes but our reference does not record have
``sha1=None`` and no URL: their file must be placed by hand (never invent a hash).
"""

import dataclasses
import difflib
import os
import shutil
from pathlib import Path

from mmengine.runner import CheckpointLoader

from segtools.models.converters import convert_state_dict, parse_spec, unwrap_state_dict
from segtools.utils.checkpoint import load_from_local_safe, register_safe_loaders
from segtools.utils.download import ENV_MIRROR, apply_mirror, cache_dir, download_file

SCHEME = 'segtools://'
ENCODING_REPO_ENV = 'ENCODING_REPO'
ENCODING_REPO = 'https://s3.us-west-1.wasabisys.com/encoding'
ENCODING_LICENSE = 'not recorded (PyTorch-Encoding states no separate licence for its weights in our reference)'
OPENMMLAB_URL = 'https://download.openmmlab.com/pretrain/third_party'
OPENMMLAB_LICENSE = 'unknown (OpenMMLab code is Apache-2.0; no licence is stated for these ImageNet weights)'


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One named set of weights.

    Attributes:
        name: The name used in ``segtools://<name>`` and :func:`get_model_file`.
        fits: The segtools module/config the weights are meant for (and whether keys need converting).
        urls: Download URLs tried in order (empty: weights must be placed by hand).
        sha256: Full sha256 of the ``.pth`` file, when known.
        sha1: sha1 of the ``.pth`` file or its published prefix, when known.
        size: Size in bytes of the ``.pth`` file, when known.
        source: Who publishes the weights (``'pytorch-encoding'``, ...).
        license: Licence of the weights as far as known.
        unzip: The URL serves a zip holding the ``.pth`` (PyTorch-Encoding's store).
        note: Why an entry has no URL or hash, shown in errors.
        convert: Conversion spec ``'<source>:<arch>'`` applied on load
            (:func:`segtools.models.converters.convert_state_dict`), or ``None`` when the keys are
            already segtools'.
    """

    name: str
    fits: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    sha1: str | None = None
    size: int | None = None
    source: str = 'pytorch-encoding'
    license: str = ENCODING_LICENSE
    unzip: bool = False
    note: str = ''
    convert: str | None = None

    @property
    def filename(self) -> str:
        """File name in the cache: ``{name}-{hash8}.pth`` as PyTorch-Encoding names it, else ``{name}.pth``."""
        digest = self.sha256 or self.sha1
        return f'{self.name}-{digest[:8]}.pth' if digest else f'{self.name}.pth'


def _encoding_entry(name: str, sha1_prefix: str | None, fits: str, convert: str | None, note: str = '') -> ModelEntry:
    """An entry of PyTorch-Encoding's store (zip at ``{repo}/models/{name}-{hash8}.zip``)."""
    urls = (f'{ENCODING_REPO}/models/{name}-{sha1_prefix}.zip',) if sha1_prefix else ()
    return ModelEntry(name=name, fits=fits, urls=urls, sha1=sha1_prefix, unzip=True, note=note, convert=convert)


def _openmmlab_entry(name: str, sha256_prefix: str, fits: str) -> ModelEntry:
    """An OpenMMLab ImageNet backbone (mmengine's ``open-mmlab://{name}``; ``{name}-{sha256[:8]}.pth``)."""
    return ModelEntry(
        name=name,
        fits=fits,
        urls=(f'{OPENMMLAB_URL}/{name}-{sha256_prefix}.pth',),
        sha256=sha256_prefix,
        source='openmmlab',
        license=OPENMMLAB_LICENSE,
        convert='mmseg:resnet_v1c',
    )


def _segmentation_spec(name: str) -> str:
    """``'deeplab_resnest50_ade'`` -> ``'encoding:deeplab_resnest50'`` (the dataset suffix dropped)."""
    return 'encoding:' + name.rpartition('_')[0]


_UNRECORDED = 'PyTorch-Encoding publishes these weights, but their sha1 prefix is not recorded in segtools'
_NO_WEIGHTS = 'PyTorch-Encoding publishes no weights for this name'

_BACKBONES = (
    ('resnet50s', 'a75c83cf', 'ResNetV1c(depth=50, stem_channels=128)'),
    ('resnet101s', '03a0f310', 'ResNetV1c(depth=101, stem_channels=128)'),
    ('resnet152s', '36670e8b', 'ResNetV1c(depth=152, stem_channels=128)'),
    ('resnest50', 'fb9de5b3', 'ResNeSt(depth=50)'),
    ('resnest101', '966fb78c', 'ResNeSt(depth=101)'),
    ('resnest200', 'd7fd712f', 'ResNeSt(depth=200)'),
    ('resnest269', '51ae5f19', 'ResNeSt(depth=269)'),
    ('wideresnet38', 'da4785cf', 'WideResNet(depth=38) (keys match PyTorch-Encoding)'),
    ('wideresnet50', 'b4156216', 'WideResNet(depth=50) (keys match PyTorch-Encoding)'),
)
# mmengine's hub table (mmengine/hub/openmmlab.json): the ImageNet backbones of mmseg's configs.
_OPENMMLAB = (
    ('resnet18_v1c', 'b5776b93', 'ResNetV1c(depth=18, stem_channels=64)'),
    ('resnet50_v1c', '2cccc1ad', 'ResNetV1c(depth=50, stem_channels=64)'),
    ('resnet101_v1c', 'e67eebb6', 'ResNetV1c(depth=101, stem_channels=64)'),
)
# Segmentation zoo: (name, fits, has published weights).
_SEGMENTATION = (
    ('encnet_resnet101s_coco', 'EncNet ResNet-101s, COCO (configs/encnet)', False),
    ('fcn_resnet50s_pcontext', 'FCN ResNet-50s, PASCAL-Context (aux=False)', False),
    ('psp_resnet50s_ade', 'PSPNet ResNet-50s, ADE20K', False),
    ('encnet_resnet50s_pcontext', 'EncNet ResNet-50s, PASCAL-Context (configs/encnet)', True),
    ('encnet_resnet101s_pcontext', 'EncNet ResNet-101s, PASCAL-Context (configs/encnet)', True),
    ('encnet_resnet50s_ade', 'EncNet ResNet-50s, ADE20K (configs/encnet)', True),
    ('encnet_resnet101s_ade', 'EncNet ResNet-101s, ADE20K, base/crop 640/576 (configs/encnet)', True),
    ('fcn_resnet50s_ade', 'FCN ResNet-50s, ADE20K (configs/fcn)', True),
    ('fcn_resnest50_ade', 'FCN ResNeSt-50, ADE20K (configs/resnest)', True),
    ('fcn_resnest50_pcontext', 'FCN ResNeSt-50, PASCAL-Context (configs/resnest)', True),
    *(
        (f'deeplab_resnest{depth}_{data}', f'DeepLabV3 ResNeSt-{depth}, {label} (configs/resnest)', True)
        for depth in (50, 101, 200, 269)
        for data, label in (('ade', 'ADE20K'), ('pcontext', 'PASCAL-Context'))
    ),
)

MODEL_STORE: dict[str, ModelEntry] = {
    **{
        # WideResNet keeps PyTorch-Encoding's names, but upstream's model (and so its saved state) also
        # has the classifier ``fc``, which segtools' backbone lacks: the converter drops it and refuses
        # any other key it does not know, instead of a silent non-strict load.
        name: _encoding_entry(name, sha1, fits, f'encoding:{name}')
        for name, sha1, fits in _BACKBONES
    },
    **{
        name: _encoding_entry(name, None, fits, _segmentation_spec(name), _UNRECORDED if published else _NO_WEIGHTS)
        for name, fits, published in _SEGMENTATION
    },
    **{name: _openmmlab_entry(name, sha256, fits) for name, sha256, fits in _OPENMMLAB},
}


def models_dir(root: str | Path | None = None) -> Path:
    """Where the named weights are cached: ``root`` or ``$SEGTOOLS_HOME/models``."""
    return Path(os.path.expanduser(str(root))) if root is not None else cache_dir() / 'models'


def get_entry(name: str) -> ModelEntry:
    """The manifest entry of ``name`` (case-insensitive, as PyTorch-Encoding looks names up).

    Raises:
        KeyError: Unknown name; the closest known names are listed.
    """
    key = name.strip().lower()
    if key not in MODEL_STORE:
        close = difflib.get_close_matches(key, MODEL_STORE, n=5, cutoff=0.5)
        hint = f'closest: {close}' if close else f'known: {sorted(MODEL_STORE)}'
        raise KeyError(f'no pretrained weights named {name!r} in segtools.models.model_store; {hint}')
    return MODEL_STORE[key]


def entry_urls(entry: ModelEntry) -> list[str]:
    """The URLs to fetch for ``entry`` after ``SEGTOOLS_MIRROR`` / ``ENCODING_REPO`` (module docstring)."""
    mirror = os.environ.get(ENV_MIRROR)
    if mirror:
        return [apply_mirror(url, mirror) for url in entry.urls]
    repo = os.environ.get(ENCODING_REPO_ENV)
    if repo and entry.source == 'pytorch-encoding' and entry.urls:
        return [f'{repo.rstrip("/")}/models/{entry.name}-{entry.sha1[:8]}.zip']
    return list(entry.urls)


def get_model_file(name: str, root: str | Path | None = None, **download_kwargs) -> Path:
    """Path of the named weights, downloaded and verified into the cache on first use.

    Args:
        name: A manifest name (see :func:`list_models`).
        root: Cache folder instead of ``$SEGTOOLS_HOME/models``.
        **download_kwargs: Passed to :func:`~segtools.utils.download.download_file`
            (``retries``, ``backoff``, ``timeout``, ``progress``).

    Returns:
        The local ``.pth`` path.

    Raises:
        KeyError: Unknown name (closest matches listed).
        FileNotFoundError: No URL is known and the file was not placed by hand (its path is named).
        segtools.utils.download.DownloadError: Offline, wrong hash, or every URL failed.
    """
    entry = get_entry(name)
    dest = models_dir(root) / entry.filename
    urls = entry_urls(entry)
    if not urls and not dest.is_file():
        raise FileNotFoundError(
            f'{entry.name}: {entry.note or "no download URL is recorded"}. Place the weights ({entry.fits}) at '
            f'{dest} by hand, or use a local checkpoint path instead of {SCHEME}{entry.name}'
        )
    hashes = dict(sha256=entry.sha256, sha1=entry.sha1)
    return download_file(urls, dest, unzip=entry.unzip, **hashes, **download_kwargs)


def list_models() -> list[str]:
    """Every name in the manifest, sorted."""
    return sorted(MODEL_STORE)


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
        name: A manifest name (see :func:`list_models`).
        root: Cache folder instead of ``$SEGTOOLS_HOME/models``.
        map_location: Same as :func:`torch.load`.
        **download_kwargs: Passed to :func:`~segtools.utils.download.download_file`.

    Returns:
        ``{'state_dict': {key: tensor}, 'meta': {'name', 'source', 'convert', 'file', 'dropped',
        'src_meta'}}``; ``dropped`` lists the source keys the conversion removed.

    Raises:
        KeyError: Unknown name, or an unknown conversion spec in its entry.
        segtools.utils.checkpoint.UnsafeCheckpointError: The file needs code-running globals.
        segtools.models.converters.ConversionError: A key of the file has no conversion rule.
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


def check_manifest() -> list[str]:
    """Problems of :data:`MODEL_STORE` (names, conversion specs, hashes); empty when sound."""
    problems = []
    for key, entry in MODEL_STORE.items():
        if key != entry.name or key != key.lower():
            problems.append(f'{key}: listed under another name than its lower-case name {entry.name!r}')
        if entry.convert is not None:
            try:
                parse_spec(entry.convert)
            except KeyError as error:
                problems.append(f'{key}: {error.args[0]}')
        if entry.urls and not (entry.sha256 or entry.sha1):
            problems.append(f'{key}: has a URL but no hash')
    return problems


def load_from_segtools(filename: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` loader of ``segtools://<name>``: verified file, converted keys."""
    return load_pretrained(filename[len(SCHEME) :], map_location=map_location)


def register_segtools_scheme() -> None:
    """Registers ``segtools://`` and segtools' weights-only loaders with mmengine (idempotent)."""
    register_safe_loaders()
    CheckpointLoader.register_scheme(prefixes=SCHEME, loader=load_from_segtools, force=True)


register_segtools_scheme()
