"""The manifest of named pretrained weights: what each name is, where it comes from, what it fits.

:data:`MODEL_STORE` maps a name (``segtools://<name>`` in a config) to a :class:`ModelEntry`: its
URLs, hash, size, source, licence, the segtools model its weights load into (``fits``) and how its keys
convert (``convert``, a spec of :mod:`segtools.weights.converters`). Fetching and loading the files is
:mod:`segtools.weights.store`'s business; nothing here touches the network or the disk.

The manifest holds every name PyTorch-Encoding publishes weights for (:data:`ENCODING_SHA1`), its
three segmentation-zoo names without weights, classifier aliases of its ImageNet files and
OpenMMLab's ImageNet ResNetV1c:

- ImageNet backbones (``resnet50s``, ``resnest50`` ..., ``wideresnet38/50``): ``fits`` a segtools
  backbone ``Type(key=value, ...)`` without classifier; the ImageNet ``fc`` is dropped on load.
- ImageNet classifiers (``resnet50s_imagenet``, ``resnest50_imagenet`` ...): the same files (cached
  once, ``published_as`` the backbone's name), converted with ``'encoding:<backbone>:classifier'``
  so ``fc`` is kept, as ``head.fc``; ``fits`` the ``ImageClassifier`` of that backbone,
  ``GlobalAveragePooling`` and ``LinearClsHead(num_classes=1000)`` (``configs/resnest/
  resnest{50,101,200,269}_8xb32-270e_imagenet.py`` for the ResNeSts, named in their notes).
- Recognition: ``deepten_resnet50_minc`` (Deep TEN on MINC-2500, ``'encoding:deepten_resnet50'``):
  ``fits`` the ``ImageClassifier`` with a ``DeepTENHead`` (its config is named in the note).
- Segmentation zoo (``{model}_{backbone}_{dataset}``): ``fits`` the segtools config (a path under
  ``configs/``) whose whole segmentor the converted keys load into; names without published weights
  have no URL.

URLs: PyTorch-Encoding's store serves ``{ENCODING_REPO}/models/{name}-{sha1[:8]}.zip`` (default
``https://s3.us-west-1.wasabisys.com/encoding``, :func:`encoding_url`), a zip holding
``{name}-{sha1[:8]}.pth``. The ``ENCODING_REPO`` and ``SEGTOOLS_MIRROR`` environment variables are
applied when a file is fetched (:func:`segtools.weights.store.entry_urls`).

Hashes: PyTorch-Encoding's entries record the full sha1 of the ``.pth`` (its ``model_store.py``);
OpenMMLab's record the first 8 hex digits of the sha256 that their file names carry
(``resnet50_v1c-2cccc1ad.pth``), a 32-bit check that catches corruption but is weaker than the full
sha256 a new entry should record. :func:`check_manifest` checks names, URLs, hashes and conversion
specs.
"""

import dataclasses
import difflib
import re

from .converters import parse_spec, pending_reason

ENCODING_REPO_ENV = 'ENCODING_REPO'
ENCODING_REPO = 'https://s3.us-west-1.wasabisys.com/encoding'
ENCODING_LICENSE = 'not recorded (PyTorch-Encoding states no separate licence for its weights in our reference)'
OPENMMLAB_URL = 'https://download.openmmlab.com/pretrain/third_party'
OPENMMLAB_LICENSE = 'unknown (OpenMMLab code is Apache-2.0; no licence is stated for these ImageNet weights)'

# PyTorch-Encoding's published files: name -> sha1 of the .pth (encoding/models/model_store.py, _model_sha1).
ENCODING_SHA1: dict[str, str] = {
    'resnest50': 'fb9de5b360976e3e8bd3679d3e93c5409a5eff3c',
    'resnest101': '966fb78c22323b0c68097c5c1242bd16d3e07fd5',
    'resnest200': 'd7fd712f5a1fcee5b3ce176026fbb6d0d278454a',
    'resnest269': '51ae5f19032e22af4ec08e695496547acdba5ce5',
    'resnet50s': 'a75c83cfc89a56a4e8ba71b14f1ec67e923787b3',
    'resnet101s': '03a0f310d6447880f1b22a83bd7d1aa7fc702c6e',
    'resnet152s': '36670e8bc2428ecd5b7db1578538e2dd23872813',
    'wideresnet38': 'da4785cfc837bf00ef95b52fb218feefe703011f',
    'wideresnet50': 'b41562160173ee2e979b795c551d3c7143b1e5b5',
    'deepten_resnet50_minc': '1225f149519c7a0113c43a056153c1bb15468ac0',
    'fcn_resnet50s_ade': '662e979de25a389f11c65e9f1df7e06c2c356381',
    'encnet_resnet50s_pcontext': '4de91d5922d4d3264f678b663f874da72e82db00',
    'encnet_resnet101s_pcontext': '9f27ea13d514d7010e59988341bcbd4140fcc33d',
    'encnet_resnet50s_ade': '07ac287cd77e53ea583f37454e17d30ce1509a4a',
    'encnet_resnet101s_ade': '3f54fa3b67bac7619cd9b3673f5c8227cf8f4718',
    'fcn_resnest50_ade': '4aba491aaf8e4866a9c9981b210e3e3266ac1f2a',
    'deeplab_resnest50_ade': '2225f09d0f40b9a168d9091652194bc35ec2a5a9',
    'deeplab_resnest101_ade': '06ca799c8cc148fe0fafb5b6d052052935aa3cc8',
    'deeplab_resnest200_ade': '7b9e7d3e6f0e2c763c7d77cad14d306c0a31fe05',
    'deeplab_resnest269_ade': '0074dd10a6e6696f6f521653fb98224e75955496',
    'fcn_resnest50_pcontext': '77a2161deeb1564e8b9c41a4bb7a3f33998b00ad',
    'deeplab_resnest50_pcontext': '08dccbc4f4694baab631e037a374d76d8108c61f',
    'deeplab_resnest101_pcontext': 'faf5841853aae64bd965a7bdc2cdc6e7a2b5d898',
    'deeplab_resnest200_pcontext': 'fe76a26551dd5dcf2d474fd37cba99d43f6e984e',
    'deeplab_resnest269_pcontext': 'b661fd26c49656e01e9487cd9245babb12f37449',
}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One named set of weights.

    Attributes:
        name: The name used in ``segtools://<name>`` and :func:`segtools.weights.store.get_model_file`.
        fits: The segtools model the converted weights load into: a backbone
            ``Type(key=value, ...)``, an ``ImageClassifier(backbone=Type(...), ...)`` (a classifier), a
            config path ``configs/...py`` (a whole segmentor), or a description where the config is pending.
        urls: Download URLs tried in order (empty: weights must be placed by hand).
        sha256: Full sha256 of the ``.pth`` file, or its published prefix, when known.
        sha1: Full sha1 of the ``.pth`` file, or its published prefix, when known.
        size: Size in bytes of the ``.pth`` file, when known.
        source: Who publishes the weights (``'pytorch-encoding'``, ...).
        license: Licence of the weights as far as known.
        unzip: The URL serves a zip holding the ``.pth`` (PyTorch-Encoding's store).
        note: Why an entry has no URL, or what to know before loading it; shown in errors.
        convert: Conversion spec ``'<source>:<arch>'`` applied on load
            (:func:`segtools.weights.converters.convert_state_dict`), or ``None`` when the keys are
            already segtools'.
        published_as: The publisher's name of the file when it differs from ``name`` (the
            ``*_imagenet`` classifiers reuse the backbones' files, so both share one cached file).
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
    published_as: str | None = None

    @property
    def file_stem(self) -> str:
        """The publisher's name of the file: ``published_as`` or ``name``."""
        return self.published_as or self.name

    @property
    def filename(self) -> str:
        """File name in the cache: ``{stem}-{hash8}.pth`` as PyTorch-Encoding names it, else ``{stem}.pth``."""
        digest = self.sha256 or self.sha1
        return f'{self.file_stem}-{digest[:8]}.pth' if digest else f'{self.file_stem}.pth'


def encoding_url(name: str, sha1: str, repo: str = ENCODING_REPO) -> str:
    """PyTorch-Encoding's download URL of ``name``: ``{repo}/models/{name}-{sha1[:8]}.zip``."""
    return f'{repo.rstrip("/")}/models/{name}-{sha1[:8]}.zip'


def _encoding_entry(
    name: str, fits: str, convert: str | None, note: str = '', published_as: str | None = None
) -> ModelEntry:
    """An entry of PyTorch-Encoding's store; a URL and full sha1 when :data:`ENCODING_SHA1` lists the file."""
    sha1 = ENCODING_SHA1.get(published_as or name)
    urls = (encoding_url(published_as or name, sha1),) if sha1 else ()
    return ModelEntry(
        name=name, fits=fits, urls=urls, sha1=sha1, unzip=True, note=note, convert=convert, published_as=published_as
    )


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


_NO_WEIGHTS = 'PyTorch-Encoding publishes no weights for this name'

# (name, the segtools backbone the ImageNet weights fit without classifier).
_BACKBONES = (
    ('resnet50s', 'ResNetV1c(depth=50, stem_channels=128)'),
    ('resnet101s', 'ResNetV1c(depth=101, stem_channels=128)'),
    ('resnet152s', 'ResNetV1c(depth=152, stem_channels=128)'),
    ('resnest50', 'ResNeSt(depth=50)'),
    ('resnest101', 'ResNeSt(depth=101)'),
    ('resnest200', 'ResNeSt(depth=200)'),
    ('resnest269', 'ResNeSt(depth=269)'),
    ('wideresnet38', 'WideResNet(depth=38) (keys match PyTorch-Encoding)'),
    ('wideresnet50', 'WideResNet(depth=50) (keys match PyTorch-Encoding)'),
)
# The ImageNet classifiers among them (segtools' WideResNet has no classifier): '<backbone>_imagenet'.
_CLASSIFIERS = ('resnet50s', 'resnet101s', 'resnet152s', 'resnest50', 'resnest101', 'resnest200', 'resnest269')
IMAGENET_CLASSES = 1000
# The configs that evaluate them (tools/test.py <config> segtools://<name>), where one is written.
_CLASSIFIER_CONFIGS = {f'resnest{d}': f'configs/resnest/resnest{d}_8xb32-270e_imagenet.py' for d in (50, 101, 200, 269)}


def _classifier_entry(backbone: str) -> ModelEntry:
    """``<backbone>_imagenet``: the backbone's file with ``fc`` kept, for an ``ImageClassifier``."""
    config = _CLASSIFIER_CONFIGS.get(backbone)
    fits = dict(_BACKBONES)[backbone].replace(')', ', out_indices=(3,))')
    return _encoding_entry(
        f'{backbone}_imagenet',
        fits=(
            f'ImageClassifier(backbone={fits}, neck=GlobalAveragePooling(), '
            f'head=LinearClsHead(num_classes={IMAGENET_CLASSES}, in_channels=2048))'
        ),
        convert=f'encoding:{backbone}:classifier',
        note=f'the ImageNet classifier of {backbone}: its file, fc kept as head.fc'
        + (f'; evaluated by {config}' if config else ''),
        published_as=backbone,
    )


# mmengine's hub table (mmengine/hub/openmmlab.json): the ImageNet backbones of mmseg's configs.
_OPENMMLAB = (
    ('resnet18_v1c', 'b5776b93', 'ResNetV1c(depth=18, stem_channels=64)'),
    ('resnet50_v1c', '2cccc1ad', 'ResNetV1c(depth=50, stem_channels=64)'),
    ('resnet101_v1c', 'e67eebb6', 'ResNetV1c(depth=101, stem_channels=64)'),
)
# Segmentation zoo: (name, the segtools config whose segmentor the converted keys fit, note).
# Upstream builds these with its auxiliary FCN head (aux=True) except fcn_resnet50s_pcontext, and
# EncNet with laterals on Pascal Context (get_encnet), as the configs do.
_FCN_R50S_ADE_NOTE = (
    "PyTorch-Encoding's get_fcn_resnet50_ade builds FCN with its default aux=True and loads this file "
    'strictly, so the file should hold the auxiliary head (auxlayer.*, converted to auxiliary_head.*), '
    'which this config (following the zoo command, no --aux) lacks: add an auxiliary FCNHead on stage 3 '
    '(1024 -> 256, 150 classes) to load it strictly. Not verified against the file itself'
)
_SEGMENTATION = (
    ('encnet_resnet101s_coco', 'configs/encnet/encnet_r101s-d8_4xb4-30e_coco21-480x480.py', _NO_WEIGHTS),
    ('fcn_resnet50s_pcontext', 'configs/fcn/fcn_r50s-d8_4xb4-80e_pascal-context-59-480x480.py', _NO_WEIGHTS),
    ('psp_resnet50s_ade', 'configs/pspnet/pspnet_r50s-d8_4xb4-180e_ade20k-480x480.py', _NO_WEIGHTS),
    ('encnet_resnet50s_pcontext', 'configs/encnet/encnet_r50s-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('encnet_resnet101s_pcontext', 'configs/encnet/encnet_r101s-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('encnet_resnet50s_ade', 'configs/encnet/encnet_r50s-d8_4xb4-180e_ade20k-480x480.py', ''),
    ('encnet_resnet101s_ade', 'configs/encnet/encnet_r101s-d8_4xb4-180e_ade20k-576x576.py', ''),
    ('fcn_resnet50s_ade', 'configs/fcn/fcn_r50s-d8_4xb4-180e_ade20k-480x480.py', _FCN_R50S_ADE_NOTE),
    ('fcn_resnest50_ade', 'configs/resnest/fcn_s50-d8_4xb4-120e_ade20k-480x480.py', ''),
    ('fcn_resnest50_pcontext', 'configs/resnest/fcn_s50-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('deeplab_resnest50_ade', 'configs/resnest/deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py', ''),
    ('deeplab_resnest101_ade', 'configs/resnest/deeplabv3_s101-d8_4xb4-180e_ade20k-480x480.py', ''),
    ('deeplab_resnest200_ade', 'configs/resnest/deeplabv3_s200-d8_4xb4-180e_ade20k-480x480.py', ''),
    ('deeplab_resnest269_ade', 'configs/resnest/deeplabv3_s269-d8_4xb4-120e_ade20k-480x480.py', ''),
    ('deeplab_resnest50_pcontext', 'configs/resnest/deeplabv3_s50-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('deeplab_resnest101_pcontext', 'configs/resnest/deeplabv3_s101-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('deeplab_resnest200_pcontext', 'configs/resnest/deeplabv3_s200-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
    ('deeplab_resnest269_pcontext', 'configs/resnest/deeplabv3_s269-d8_4xb4-80e_pascal-context-59-480x480.py', ''),
)
_DEEPTEN = _encoding_entry(
    'deepten_resnet50_minc',
    fits=(
        'ImageClassifier(backbone=ResNetV1c(depth=50, stem_channels=128, out_indices=(3,)), '
        'head=DeepTENHead(num_classes=23, in_channels=2048, channels=128, num_codes=32))'
    ),
    convert='encoding:deepten_resnet50',
    note=(
        'Deep TEN on MINC-2500 (23 classes; upstream top-1 81.04 on test-1, single 224 crop), evaluated by '
        'configs/deepten/deepten_resnet50_4xb128-80e_minc-224.py; the backbone is not dilated, and the head '
        "conv's bias is folded into its BN running mean"
    ),
)

MODEL_STORE: dict[str, ModelEntry] = {
    **{
        # WideResNet keeps PyTorch-Encoding's names, but upstream's model (and so its saved state) also
        # has the classifier ``fc``, which segtools' backbone lacks: the converter drops it and refuses
        # any other key it does not know, instead of a silent non-strict load.
        name: _encoding_entry(name, fits, f'encoding:{name}')
        for name, fits in _BACKBONES
    },
    **{f'{name}_imagenet': _classifier_entry(name) for name in _CLASSIFIERS},
    _DEEPTEN.name: _DEEPTEN,
    **{name: _encoding_entry(name, fits, _segmentation_spec(name), note) for name, fits, note in _SEGMENTATION},
    **{name: _openmmlab_entry(name, sha256, fits) for name, sha256, fits in _OPENMMLAB},
}


def get_entry(name: str) -> ModelEntry:
    """The manifest entry of ``name`` (case-insensitive, as PyTorch-Encoding looks names up).

    Raises:
        KeyError: Unknown name; the closest known names are listed.
    """
    key = name.strip().lower()
    if key not in MODEL_STORE:
        close = difflib.get_close_matches(key, MODEL_STORE, n=5, cutoff=0.5)
        hint = f'closest: {close}' if close else f'known: {sorted(MODEL_STORE)}'
        raise KeyError(f'no pretrained weights named {name!r} in segtools.weights.manifest; {hint}')
    return MODEL_STORE[key]


def list_models() -> list[str]:
    """Every name in the manifest, sorted."""
    return sorted(MODEL_STORE)


def check_manifest() -> list[str]:
    """Problems of :data:`MODEL_STORE`; empty when sound.

    Checks names (lower case, listed under their own name), conversion specs (known, or pending
    with a note saying so), hashes (an entry with a URL has one) and PyTorch-Encoding's entries:
    every name of :data:`ENCODING_SHA1` is listed, each such entry records that full sha1 and
    exactly the URL of PyTorch-Encoding's scheme (:func:`encoding_url`, a zip), and an entry
    without a URL is one whose file upstream does not publish.
    """
    problems = []
    for key, entry in MODEL_STORE.items():
        if key != entry.name or key != key.lower():
            problems.append(f'{key}: listed under another name than its lower-case name {entry.name!r}')
        if entry.convert is not None:
            if pending_reason(entry.convert) is not None:
                if 'pending' not in entry.note:
                    problems.append(f'{key}: conversion {entry.convert!r} is pending but the note does not say so')
            else:
                try:
                    parse_spec(entry.convert)
                except KeyError as error:
                    problems.append(f'{key}: {error.args[0]}')
        if entry.urls and not (entry.sha256 or entry.sha1):
            problems.append(f'{key}: has a URL but no hash')
        if entry.source == 'pytorch-encoding':
            problems += _encoding_problems(key, entry)
    problems += [
        f'{name}: published by PyTorch-Encoding but not in the manifest'
        for name in ENCODING_SHA1.keys() - MODEL_STORE.keys()
    ]
    return problems


def _encoding_problems(key: str, entry: ModelEntry) -> list[str]:
    """What is wrong with a PyTorch-Encoding entry (see :func:`check_manifest`)."""
    sha1 = ENCODING_SHA1.get(entry.file_stem)
    if sha1 is None:
        if entry.urls or entry.sha1:
            return [f'{key}: {entry.file_stem!r} is not a published PyTorch-Encoding file, yet has a URL or sha1']
        return [] if entry.note else [f'{key}: has no URL and no note saying why']
    problems = []
    if entry.sha1 != sha1 or not re.fullmatch(r'[0-9a-f]{40}', entry.sha1 or ''):
        problems.append(f'{key}: sha1 {entry.sha1!r} is not the published full sha1 {sha1}')
    if entry.urls != (encoding_url(entry.file_stem, sha1),) or not entry.unzip:
        problems.append(f'{key}: URLs {entry.urls} are not the zip {encoding_url(entry.file_stem, sha1)}')
    return problems
