"""segtools.weights.manifest and .store: manifest, get_model_file, mirrors, purge and the segtools:// scheme.

The PyTorch-Encoding names and full sha1s below are copied from its ``model_store.py`` (as recorded in
our reference), independently of the manifest they check.
"""

import ast
import dataclasses
import hashlib
import http.server
import io
import json
import os
import re
import threading
import zipfile
from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader, load_checkpoint

from segtools.models.backbones import ResNet
from segtools.registry import MODELS
from segtools.weights import store as model_store
from segtools.weights.converters import check_against_model, convert_state_dict, encoding, pending_reason
from segtools.weights.download import HashMismatchError, OfflineError
from segtools.weights.loading import UnsafeCheckpointError
from segtools.weights.manifest import MODEL_STORE, ModelEntry, check_manifest, encoding_url, get_entry, list_models
from segtools.weights.store import get_model_file, load_pretrained, purge

from .test_converters._source_models import (
    ENCODING_BACKBONES,
    SourceDeepTen,
    SourceResNet,
    assert_same_features,
    encoding_segmentation_keys,
    meta_shapes,
    meta_state,
    randomize,
    shapes,
)

ROOT = Path(__file__).resolve().parents[2]
WASABI = 'https://s3.us-west-1.wasabisys.com/encoding/models'
# PyTorch-Encoding's encoding/models/model_store.py (_model_sha1): every published file.
PUBLISHED_SHA1 = {
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
# Its segmentation-zoo names without published weights.
UNPUBLISHED = ('encnet_resnet101s_coco', 'fcn_resnet50s_pcontext', 'psp_resnet50s_ade')
SEGMENTATION = sorted(
    [name for name in PUBLISHED_SHA1 if name.count('_') == 2 and not name.startswith('deepten')] + list(UNPUBLISHED)
)
IMAGENET_CLASSIFIERS = ('resnet50s', 'resnet101s', 'resnet152s', 'resnest50', 'resnest101', 'resnest200', 'resnest269')
RECOGNITION = [f'{backbone}_imagenet' for backbone in IMAGENET_CLASSIFIERS] + ['deepten_resnet50_minc']
# The configs that evaluate recognition entries (written alongside; their notes name them).
RECOGNITION_CONFIGS = {
    **{f'resnest{d}_imagenet': f'configs/resnest/resnest{d}_8xb32-270e_imagenet.py' for d in (50, 101, 200, 269)},
    'deepten_resnet50_minc': 'configs/deepten/deepten_resnet50_4xb128-80e_minc-224.py',
}

FAST = dict(retries=1, backoff=0.0, timeout=10.0, progress=False)
# The class itself, not its name: earlier tests may leave another default scope behind.
TINY_RESNET = dict(type=ResNet, depth=18, stem_channels=8, base_channels=8)


class StaticServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes) on 127.0.0.1 and logs every requested path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []

    @property
    def base(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}'


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = StaticServer()
    threading.Thread(target=srv.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty ``$SEGTOOLS_HOME``; no mirror, online."""
    monkeypatch.setenv('SEGTOOLS_HOME', str(tmp_path / 'home'))
    for name in ('SEGTOOLS_MIRROR', 'ENCODING_REPO', 'SEGTOOLS_OFFLINE'):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / 'home'


def _zip_of(data: bytes, member: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as zipped:
        zipped.writestr(member, data)
    return archive.getvalue()


def _publish(server, monkeypatch, name: str, data: bytes) -> ModelEntry:
    """Adds a PyTorch-Encoding-style entry (zip, full sha1) whose mirror is ``server``."""
    sha1 = hashlib.sha1(data).hexdigest()
    entry = ModelEntry(
        name=name, fits='test', urls=(encoding_url(name, sha1, 'https://s3.invalid/encoding'),), sha1=sha1, unzip=True
    )
    monkeypatch.setitem(MODEL_STORE, name, entry)
    monkeypatch.setenv('SEGTOOLS_MIRROR', server.base)
    server.files[f'/encoding/models/{name}-{sha1[:8]}.zip'] = _zip_of(data, f'{name}-{sha1[:8]}.pth')
    return entry


def _republish(server, monkeypatch, data: bytes, *names: str) -> str:
    """Serves ``data`` as the file of the real entries ``names`` (which share one file) from the mirror
    ``server``, as PyTorch-Encoding's store names it; only their sha1 (and so the URL) is replaced.

    Returns:
        The path the store's URL has on the server.
    """
    sha1 = hashlib.sha1(data).hexdigest()
    for name in names:
        entry = MODEL_STORE[name]
        assert entry.urls == (encoding_url(entry.file_stem, entry.sha1),)
        monkeypatch.setitem(
            MODEL_STORE, name, dataclasses.replace(entry, sha1=sha1, urls=(encoding_url(entry.file_stem, sha1),))
        )
    stem = MODEL_STORE[names[0]].file_stem
    path = f'/encoding/models/{stem}-{sha1[:8]}.zip'
    server.files[path] = _zip_of(data, f'{stem}-{sha1[:8]}.pth')
    monkeypatch.setenv('SEGTOOLS_MIRROR', server.base)
    return path


def _cfg_of(text: str) -> dict:
    """A ``fits`` text ``Type(key=value, ...)`` (nested calls allowed) -> ``dict(type='Type', key=value, ...)``."""

    def value(node: ast.expr):
        if isinstance(node, ast.Call):
            assert not node.args, f'{text}: positional arguments in {ast.unparse(node)}'
            return dict(type=node.func.id, **{kw.arg: value(kw.value) for kw in node.keywords})
        return ast.literal_eval(node)

    return value(ast.parse(text, mode='eval').body)


def _source_key_shapes(name: str) -> dict[str, tuple]:
    """``{key: shape}`` of PyTorch-Encoding's full-size model behind a recognition entry."""
    if name == 'deepten_resnet50_minc':
        return meta_shapes(lambda: SourceDeepTen(23))
    backbone = MODEL_STORE[name].file_stem
    return meta_shapes(lambda: SourceResNet(**ENCODING_BACKBONES[backbone], num_classes=1000))


def _tiny_resnet_bytes(seed: int) -> tuple[bytes, dict]:
    torch.manual_seed(seed)
    state = MODELS.build(TINY_RESNET).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)  # PyTorch-Encoding's files are bare state dicts
    return buffer.getvalue(), state


class RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_manifest_holds_every_published_pytorch_encoding_file_with_its_full_sha1():
    assert check_manifest() == []
    encoding = [name for name in list_models() if MODEL_STORE[name].source == 'pytorch-encoding']
    assert len(encoding) == 25 + len(UNPUBLISHED) + len(IMAGENET_CLASSIFIERS)
    for name, sha1 in PUBLISHED_SHA1.items():
        entry = MODEL_STORE[name]
        assert entry.sha1 == sha1 and re.fullmatch(r'[0-9a-f]{40}', entry.sha1), name
        assert entry.urls == (f'{WASABI}/{name}-{sha1[:8]}.zip',) and entry.unzip, name
        assert entry.filename == f'{name}-{sha1[:8]}.pth' and entry.published_as is None, name
    for name in UNPUBLISHED:  # no invented hash
        entry = MODEL_STORE[name]
        assert entry.sha1 is None and entry.urls == () and 'no weights' in entry.note


@pytest.mark.parametrize('backbone', IMAGENET_CLASSIFIERS)
def test_imagenet_classifier_entries_reuse_the_backbone_file_and_keep_fc(backbone):
    entry, plain = MODEL_STORE[f'{backbone}_imagenet'], MODEL_STORE[backbone]
    assert entry.published_as == backbone and entry.file_stem == backbone
    assert (entry.sha1, entry.urls, entry.filename) == (plain.sha1, plain.urls, plain.filename)  # one cached file
    assert entry.convert == f'encoding:{backbone}:classifier' and plain.convert == f'encoding:{backbone}'
    cfg = _cfg_of(entry.fits)
    assert cfg['type'] == 'ImageClassifier' and cfg['neck'] == dict(type='GlobalAveragePooling')
    assert cfg['head'] == dict(type='LinearClsHead', num_classes=1000, in_channels=2048)
    assert cfg['backbone'] == dict(_cfg_of(plain.fits), out_indices=(3,))
    config = RECOGNITION_CONFIGS.get(entry.name)
    assert config is None or config in entry.note


@pytest.mark.parametrize('name', RECOGNITION)
def test_recognition_entry_fits_its_image_classifier_key_for_key(name):
    """PyTorch-Encoding's full-size model, converted by the entry's spec, has exactly the keys and shapes of the
    ``ImageClassifier`` its ``fits`` describes."""
    entry = MODEL_STORE[name]
    converted = convert_state_dict(meta_state(_source_key_shapes(name)), entry.convert)
    assert converted.dropped == (['pretrained.fc.weight', 'pretrained.fc.bias'] if 'deepten' in name else [])
    with torch.device('meta'):
        expected = MODELS.build(_cfg_of(entry.fits)).state_dict()
    assert check_against_model(converted.state_dict, expected) == ([], [])


@pytest.mark.parametrize('name', sorted(RECOGNITION_CONFIGS))
def test_recognition_entry_fits_the_config_that_evaluates_it(name):
    """``tools/test.py <config> segtools://<name>``: the config's model has the converted keys and shapes."""
    config = ROOT / RECOGNITION_CONFIGS[name]
    assert RECOGNITION_CONFIGS[name] in MODEL_STORE[name].note
    if not config.is_file():
        pytest.skip(f'{RECOGNITION_CONFIGS[name]} is not written yet')
    converted = convert_state_dict(meta_state(_source_key_shapes(name)), MODEL_STORE[name].convert).state_dict
    with torch.device('meta'):
        expected = MODELS.build(Config.fromfile(str(config)).model).state_dict()
    assert check_against_model(converted, expected) == ([], [])


def test_wideresnet_has_no_classifier_entry():
    assert [name for name in list_models() if name.startswith('wideresnet')] == ['wideresnet38', 'wideresnet50']


def test_deepten_entry_is_published_and_converted():
    entry = MODEL_STORE['deepten_resnet50_minc']
    assert entry.convert == 'encoding:deepten_resnet50' and pending_reason(entry.convert) is None
    assert _cfg_of(entry.fits) == dict(
        type='ImageClassifier',
        backbone=dict(type='ResNetV1c', depth=50, stem_channels=128, out_indices=(3,)),
        head=dict(type='DeepTENHead', num_classes=23, in_channels=2048, channels=128, num_codes=32),
    )
    assert 'configs/deepten/deepten_resnet50_4xb128-80e_minc-224.py' in entry.note and 'pending' not in entry.note


def test_check_manifest_names_wrong_pytorch_encoding_entries(monkeypatch):
    entry = MODEL_STORE['resnest50']
    monkeypatch.setitem(MODEL_STORE, 'resnest50', dataclasses.replace(entry, sha1=entry.sha1[:8]))
    monkeypatch.setitem(MODEL_STORE, 'resnest101', dataclasses.replace(MODEL_STORE['resnest101'], urls=('http://x',)))
    monkeypatch.delitem(MODEL_STORE, 'fcn_resnest50_ade')
    monkeypatch.setitem(
        MODEL_STORE, 'psp_resnet50s_ade', dataclasses.replace(MODEL_STORE['psp_resnet50s_ade'], note='')
    )
    # A pending conversion (none is today) must be said so in the note.
    monkeypatch.setitem(encoding.PENDING, 'deepten_resnet50', 'a test reason')
    deepten = MODEL_STORE['deepten_resnet50_minc']
    monkeypatch.setitem(MODEL_STORE, 'deepten_resnet50_minc', dataclasses.replace(deepten, note='Deep TEN'))
    assert check_manifest() == [
        "resnest50: sha1 'fb9de5b3' is not the published full sha1 fb9de5b360976e3e8bd3679d3e93c5409a5eff3c",
        f"resnest101: URLs ('http://x',) are not the zip {WASABI}/resnest101-966fb78c.zip",
        "deepten_resnet50_minc: conversion 'encoding:deepten_resnet50' is pending but the note does not say so",
        'psp_resnet50s_ade: has no URL and no note saying why',
        'fcn_resnest50_ade: published by PyTorch-Encoding but not in the manifest',
    ]


@pytest.mark.parametrize('name', SEGMENTATION)
def test_segmentation_entry_fits_its_config_key_for_key(name):
    """The entry's ``fits`` is a zoo config; PyTorch-Encoding's model of that name (its key layout, from its
    code: aux head everywhere but fcn_resnet50s_pcontext, EncNet laterals on Pascal Context), converted by
    the entry's spec, has exactly the keys and shapes of the config's model."""
    entry = MODEL_STORE[name]
    model, backbone, dataset = name.split('_')
    assert entry.convert == f'encoding:{model}_{backbone}'
    assert re.fullmatch(r'configs/\w+/[\w.-]+\.py', entry.fits) and (ROOT / entry.fits).is_file(), entry.fits
    nclass = dict(ade=150, pcontext=59, coco=21)[dataset]
    source = encoding_segmentation_keys(
        model,
        backbone,
        nclass,
        lateral=model == 'encnet' and dataset == 'pcontext',
        aux=name != 'fcn_resnet50s_pcontext',
    )
    converted = convert_state_dict(meta_state(source), entry.convert).state_dict
    with torch.device('meta'):
        expected = MODELS.build(Config.fromfile(str(ROOT / entry.fits)).model).state_dict()
    missing, unexpected = check_against_model(converted, expected)
    assert missing == []
    if name == 'fcn_resnet50s_ade':
        # Upstream's get_fcn_resnet50_ade has aux=True; the config follows the zoo command (no --aux).
        assert unexpected and all(key.startswith('auxiliary_head.') for key in unexpected)
        assert 'auxiliary' in entry.note
    else:
        assert unexpected == []
        assert shapes(converted) == shapes(expected)


def test_unknown_name_lists_closest_matches():
    with pytest.raises(KeyError, match=r"'resnest10l'.*closest: \['resnest101'"):
        get_entry('resnest10l')
    assert get_entry('ResNeSt50') is MODEL_STORE['resnest50']


def test_entry_without_url_names_the_path_to_place_by_hand(home):
    with pytest.raises(FileNotFoundError) as info:
        get_model_file('psp_resnet50s_ade')
    placed = home / 'models' / 'psp_resnet50s_ade.pth'
    assert str(placed) in str(info.value) and 'no weights' in str(info.value)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b'weights placed by hand')
    assert get_model_file('psp_resnet50s_ade') == placed


def test_get_model_file_downloads_zip_from_mirror_verifies_and_caches(server, home, monkeypatch):
    data, _ = _tiny_resnet_bytes(0)
    entry = _publish(server, monkeypatch, 'tiny_r18', data)
    path = get_model_file('tiny_r18', **FAST)
    assert path == home / 'models' / entry.filename and path.read_bytes() == data
    assert get_model_file('tiny_r18', **FAST) == path
    assert len(server.requests) == 1  # the second call used the cache

    assert purge() == [home / 'models' / entry.filename, home / 'models' / f'{entry.filename}.lock']
    assert not path.exists()


def test_wrong_full_sha1_with_the_published_prefix_raises_and_leaves_nothing(server, home, monkeypatch):
    """The file name carries 8 hex digits; the full sha1 is what is checked."""
    data, _ = _tiny_resnet_bytes(0)
    entry = _publish(server, monkeypatch, 'tiny_r18', data)
    wrong = entry.sha1[:8] + ('0' if entry.sha1[8] != '0' else '1') + entry.sha1[9:]
    monkeypatch.setitem(MODEL_STORE, 'tiny_r18', dataclasses.replace(entry, sha1=wrong))
    assert MODEL_STORE['tiny_r18'].filename == entry.filename  # same URL and file name
    with pytest.raises(HashMismatchError, match=f'expected sha1 {wrong}'):
        get_model_file('tiny_r18', **FAST)
    assert server.requests == [f'/encoding/models/{entry.filename[:-4]}.zip']
    assert sorted(path.name for path in (home / 'models').iterdir()) == [f'{entry.filename}.lock']


def test_encoding_repo_is_honoured_for_pytorch_encoding_entries(monkeypatch):
    monkeypatch.delenv('SEGTOOLS_MIRROR', raising=False)
    monkeypatch.setenv('ENCODING_REPO', 'http://repo.local/enc/')
    assert model_store.entry_urls(MODEL_STORE['resnest50']) == ['http://repo.local/enc/models/resnest50-fb9de5b3.zip']
    # The classifier alias fetches the backbone's file.
    assert model_store.entry_urls(MODEL_STORE['resnest50_imagenet']) == model_store.entry_urls(MODEL_STORE['resnest50'])
    assert model_store.entry_urls(MODEL_STORE['resnet50_v1c']) == list(MODEL_STORE['resnet50_v1c'].urls)
    monkeypatch.setenv('SEGTOOLS_MIRROR', 'http://mirror.local')  # wins over ENCODING_REPO
    assert model_store.entry_urls(MODEL_STORE['resnest50']) == [
        'http://mirror.local/encoding/models/resnest50-fb9de5b3.zip'
    ]


TINY_V1C = dict(type='ResNetV1c', depth=50, stem_channels=8, base_channels=8)


def _tiny_image_classifier(head: dict, neck: dict | None = None, **kwargs) -> dict:
    """An ``ImageClassifier`` on the narrow ResNetV1c-50 (stem 8, base 8: c4 has 256 channels)."""
    return dict(type='ImageClassifier', backbone=dict(TINY_V1C, out_indices=(3,)), neck=neck, head=head, **kwargs)


def test_imagenet_classifier_entry_downloads_the_backbone_file_and_loads_with_fc(server, home, monkeypatch):
    """``segtools://resnet50s_imagenet``: PyTorch-Encoding's ``resnet50s-<hash8>.zip`` fetched and verified once,
    converted with ``fc`` kept as ``head.fc``, loaded into the ImageClassifier (``GlobalAveragePooling``,
    ``LinearClsHead(num_classes=1000)``): the same logits; ``resnet50s`` then reuses the cached file and
    drops ``fc``."""
    source = randomize(SourceResNet(stem_width=4, base=8, num_classes=1000)).float()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)  # upstream files are bare state dicts
    path = _republish(server, monkeypatch, buffer.getvalue(), 'resnet50s_imagenet', 'resnet50s')

    loaded = load_pretrained('resnet50s_imagenet', **FAST)
    assert server.requests == [path]
    assert loaded['meta']['convert'] == 'encoding:resnet50s:classifier' and loaded['meta']['dropped'] == []
    assert Path(loaded['meta']['file']).name == MODEL_STORE['resnet50s'].filename
    classifier = MODELS.build(
        _tiny_image_classifier(
            head=dict(type='LinearClsHead', num_classes=1000, in_channels=256),
            neck=dict(type='GlobalAveragePooling'),
            init_cfg=dict(type='Pretrained', checkpoint='segtools://resnet50s_imagenet'),
        )
    )
    classifier.init_weights()
    ours = classifier.state_dict()
    assert ours.keys() == loaded['state_dict'].keys() and 'head.fc.weight' in ours
    assert all(torch.equal(ours[key], value) for key, value in loaded['state_dict'].items())
    x = torch.randn(2, 3, 35, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = source.double().logits(x)
        torch.testing.assert_close(classifier.double().eval()(x), expected, rtol=1e-9, atol=1e-9)

    backbone = load_pretrained('resnet50s', **FAST)
    assert server.requests == [path]  # one file for both names
    assert backbone['meta']['dropped'] == ['fc.weight', 'fc.bias'] and 'fc.weight' not in backbone['state_dict']


@pytest.mark.parametrize('name', [name for name in SEGMENTATION if name in PUBLISHED_SHA1] + ['deepten_resnet50_minc'])
def test_published_entry_is_fetched_from_encoding_repo_by_its_name_and_checked(server, home, monkeypatch, name):
    """Served by a local ``ENCODING_REPO`` at ``/models/{name}-{sha1[:8]}.zip`` (PyTorch-Encoding's scheme), the
    zip's ``.pth`` is checked against the full sha1: a wrong file is refused and nothing is cached."""
    sha1 = PUBLISHED_SHA1[name]
    monkeypatch.setenv('ENCODING_REPO', server.base)
    server.files[f'/models/{name}-{sha1[:8]}.zip'] = _zip_of(b'not the published weights', f'{name}-{sha1[:8]}.pth')
    with pytest.raises(HashMismatchError, match=f'expected sha1 {sha1}'):
        get_model_file(name, **FAST)
    assert server.requests == [f'/models/{name}-{sha1[:8]}.zip']
    assert not (home / 'models' / f'{name}-{sha1[:8]}.pth').exists()


def test_segmentation_entry_downloads_under_its_published_name(server, home, monkeypatch):
    data = b'weights of deeplab_resnest50_ade'
    path = _republish(server, monkeypatch, data, 'deeplab_resnest50_ade')
    got = get_model_file('deeplab_resnest50_ade', **FAST)
    assert server.requests == [path] and path.startswith('/encoding/models/deeplab_resnest50_ade-')
    assert got == home / 'models' / MODEL_STORE['deeplab_resnest50_ade'].filename and got.read_bytes() == data


def test_deepten_entry_loads_strictly_into_the_image_classifier(server, home, monkeypatch):
    """``segtools://deepten_resnet50_minc``, served as PyTorch-Encoding's store names it (a narrow DeepTen),
    goes through mmengine's ``load_checkpoint`` like every entry: converted, loaded strictly, the same logits."""
    source = randomize(SourceDeepTen(23, backbone=dict(stem_width=4, base=8), channels=16, ncodes=8)).float()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)  # upstream files are bare state dicts
    path = _republish(server, monkeypatch, buffer.getvalue(), 'deepten_resnet50_minc')

    torch.manual_seed(0)
    model = MODELS.build(
        _tiny_image_classifier(head=dict(type='DeepTENHead', num_classes=23, in_channels=256, channels=16, num_codes=8))
    )
    load_checkpoint(model, 'segtools://deepten_resnet50_minc', strict=True)
    assert server.requests == [path]
    loaded = load_pretrained('deepten_resnet50_minc', **FAST)
    assert loaded['meta']['convert'] == 'encoding:deepten_resnet50'
    assert loaded['meta']['dropped'] == ['pretrained.fc.weight', 'pretrained.fc.bias']
    ours = model.state_dict()
    assert ours.keys() == loaded['state_dict'].keys()
    assert all(torch.equal(ours[key], value) for key, value in loaded['state_dict'].items())
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = source.double()(x)
        torch.testing.assert_close(model.double().eval()(x), expected, rtol=1e-7, atol=1e-7)


def test_offline_names_file_and_url(home, monkeypatch):
    monkeypatch.setenv('SEGTOOLS_OFFLINE', '1')
    with pytest.raises(OfflineError) as info:
        get_model_file('resnest101')
    assert str(home / 'models' / 'resnest101-966fb78c.pth') in str(info.value)
    assert 'https://s3.us-west-1.wasabisys.com/encoding/models/resnest101-966fb78c.zip' in str(info.value)


def test_segtools_scheme_is_registered_with_mmengine():
    assert CheckpointLoader._get_checkpoint_loader('segtools://resnest50') is model_store.load_from_segtools


def test_init_cfg_pretrained_segtools_scheme_loads_the_weights(server, home, monkeypatch):
    data, state = _tiny_resnet_bytes(1)
    _publish(server, monkeypatch, 'tiny_r18', data)
    torch.manual_seed(2)
    backbone = MODELS.build(dict(TINY_RESNET, init_cfg=dict(type='Pretrained', checkpoint='segtools://tiny_r18')))
    assert not torch.equal(backbone.conv1.weight, state['conv1.weight'])
    backbone.init_weights()
    loaded = backbone.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())


def test_segtools_scheme_refuses_code_executing_pickle(server, home, monkeypatch, tmp_path):
    marker = tmp_path / 'pwned'
    buffer = io.BytesIO()
    torch.save({'conv1.weight': torch.zeros(1), 'evil': RunsCode(str(marker))}, buffer)
    _publish(server, monkeypatch, 'evil_r18', buffer.getvalue())
    backbone = MODELS.build(dict(TINY_RESNET, init_cfg=dict(type='Pretrained', checkpoint='segtools://evil_r18')))
    with pytest.raises(UnsafeCheckpointError, match='Refusing to load checkpoint'):
        backbone.init_weights()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(backbone, 'segtools://evil_r18')
    assert not marker.exists()


def test_openmmlab_entries_follow_mmengines_table():
    with open(os.path.join(os.path.dirname(mmengine.__file__), 'hub', 'openmmlab.json')) as file:
        table = json.load(file)
    names = [name for name in list_models() if MODEL_STORE[name].source == 'openmmlab']
    assert names == ['resnet101_v1c', 'resnet18_v1c', 'resnet50_v1c']
    for name in names:
        entry = MODEL_STORE[name]
        assert entry.urls == (table[name],) and not entry.unzip and entry.sha1 is None
        assert table[name].endswith(f'/{entry.filename}') and len(entry.sha256) == 8
        assert entry.convert == 'mmseg:resnet_v1c' and 'stem_channels=64' in entry.fits


def test_manifest_conversion_specs_are_all_known(monkeypatch):
    assert check_manifest() == []
    specs = {name: entry.convert for name, entry in MODEL_STORE.items()}
    assert [name for name, spec in specs.items() if spec is None] == []
    assert specs['wideresnet38'] == 'encoding:wideresnet38' and specs['wideresnet50'] == 'encoding:wideresnet50'
    assert specs['resnet50s'] == 'encoding:resnet50s'
    assert specs['deeplab_resnest269_ade'] == 'encoding:deeplab_resnest269'
    assert specs['resnest50_imagenet'] == 'encoding:resnest50:classifier'
    assert specs['deepten_resnet50_minc'] == 'encoding:deepten_resnet50'
    monkeypatch.setitem(MODEL_STORE, 'x', ModelEntry(name='x', fits='test', convert='encoding:resnet42', note='test'))
    (problem,) = check_manifest()
    assert problem.startswith("x: conversion spec 'encoding:resnet42': unknown encoding arch 'resnet42'")


def test_init_cfg_pretrained_converts_a_pytorch_encoding_backbone(server, home, monkeypatch):
    """PyTorch-Encoding layout (deep stem ``conv1.*``, ``fc``) -> every key of our ResNetV1c loaded."""
    source = randomize(SourceResNet(stem_width=4, base=8)).float()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    entry = _publish(server, monkeypatch, 'tiny_r50s', buffer.getvalue())
    monkeypatch.setitem(MODEL_STORE, 'tiny_r50s', ModelEntry(**{**entry.__dict__, 'convert': 'encoding:resnet50s'}))

    loaded = load_pretrained('tiny_r50s', **FAST)
    assert loaded['meta']['dropped'] == ['fc.weight', 'fc.bias'] and loaded['meta']['convert'] == 'encoding:resnet50s'
    converted = loaded['state_dict']
    torch.manual_seed(0)
    backbone = MODELS.build(dict(TINY_V1C, init_cfg=dict(type='Pretrained', checkpoint='segtools://tiny_r50s')))
    assert not torch.equal(backbone.stem[0].weight, converted['stem.0.weight'])
    backbone.init_weights()
    ours = backbone.state_dict()
    assert ours.keys() == converted.keys()  # nothing missing, nothing unexpected
    assert all(torch.equal(ours[key], value) for key, value in converted.items())
    assert_same_features(source.double(), backbone.double().eval())


def test_openmmlab_style_entry_is_verified_by_sha256_prefix_and_loaded(server, home, monkeypatch):
    torch.manual_seed(3)
    state = MODELS.build(dict(TINY_V1C, depth=18)).state_dict()
    state |= {'fc.weight': torch.ones(10, 64), 'fc.bias': torch.zeros(10)}
    buffer = io.BytesIO()
    torch.save({'state_dict': state}, buffer)
    data = buffer.getvalue()
    hash8 = hashlib.sha256(data).hexdigest()[:8]
    url = f'https://download.invalid/pretrain/third_party/tiny_v1c-{hash8}.pth'
    entry = ModelEntry(
        name='tiny_v1c', fits='test', urls=(url,), sha256=hash8, source='openmmlab', convert='mmseg:resnet_v1c'
    )
    monkeypatch.setitem(MODEL_STORE, 'tiny_v1c', entry)
    monkeypatch.setenv('SEGTOOLS_MIRROR', server.base)
    server.files[f'/pretrain/third_party/tiny_v1c-{hash8}.pth'] = data

    backbone = MODELS.build(dict(TINY_V1C, depth=18))
    load_checkpoint(backbone, 'segtools://tiny_v1c', strict=True)
    assert (home / 'models' / f'tiny_v1c-{hash8}.pth').read_bytes() == data
    ours = backbone.state_dict()
    assert ours.keys() == state.keys() - {'fc.weight', 'fc.bias'}
    assert all(torch.equal(value, state[key]) for key, value in ours.items())

    monkeypatch.setitem(MODEL_STORE, 'tiny_v1c', ModelEntry(**{**entry.__dict__, 'sha256': '0badc0de'}))
    server.files['/pretrain/third_party/tiny_v1c-0badc0de.pth'] = data
    with pytest.raises(HashMismatchError, match=r'sha256 prefix \(8 hex\) 0badc0de'):
        load_pretrained('tiny_v1c', **FAST)
