"""segtools.models.model_store: manifest, get_model_file, mirrors, purge and the segtools:// scheme."""

import hashlib
import http.server
import io
import json
import os
import threading
import zipfile

import mmengine
import pytest
import torch
from mmengine.runner import CheckpointLoader, load_checkpoint

from segtools.models import model_store
from segtools.models.backbones import ResNet
from segtools.models.model_store import (
    MODEL_STORE,
    ModelEntry,
    check_manifest,
    get_entry,
    get_model_file,
    list_models,
    load_pretrained,
    purge,
)
from segtools.registry import MODELS
from segtools.utils.checkpoint import UnsafeCheckpointError
from segtools.utils.download import HashMismatchError, OfflineError

from .test_converters._source_models import SourceResNet, assert_same_features, randomize

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
    threading.Thread(target=srv.serve_forever, daemon=True).start()
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
    """Adds a PyTorch-Encoding-style entry (zip, sha1 prefix) whose mirror is ``server``."""
    hash8 = hashlib.sha1(data).hexdigest()[:8]
    url = f'https://s3.invalid/encoding/models/{name}-{hash8}.zip'
    entry = ModelEntry(name=name, fits='test', urls=(url,), sha1=hash8, unzip=True)
    monkeypatch.setitem(MODEL_STORE, name, entry)
    monkeypatch.setenv('SEGTOOLS_MIRROR', server.base)
    server.files[f'/encoding/models/{name}-{hash8}.zip'] = _zip_of(data, f'{name}-{hash8}.pth')
    return entry


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


def test_manifest_holds_pytorch_encoding_names_and_published_prefixes():
    expected = {
        'resnet50s': 'a75c83cf',
        'resnet101s': '03a0f310',
        'resnet152s': '36670e8b',
        'resnest50': 'fb9de5b3',
        'resnest101': '966fb78c',
        'resnest200': 'd7fd712f',
        'resnest269': '51ae5f19',
        'wideresnet38': 'da4785cf',
        'wideresnet50': 'b4156216',
    }
    for name, hash8 in expected.items():
        entry = MODEL_STORE[name]
        assert entry.sha1 == hash8 and entry.unzip and entry.filename == f'{name}-{hash8}.pth'
        assert entry.urls == (f'https://s3.us-west-1.wasabisys.com/encoding/models/{name}-{hash8}.zip',)
    segmentation = [name for name in list_models() if name not in expected and MODEL_STORE[name].source != 'openmmlab']
    assert len(segmentation) == 18 and 'deeplab_resnest269_pcontext' in segmentation
    # No invented hashes: the segmentation prefixes are not in our reference.
    for name in segmentation:
        assert MODEL_STORE[name].sha1 is None and MODEL_STORE[name].urls == () and MODEL_STORE[name].note
    assert sum('no weights' in MODEL_STORE[name].note for name in segmentation) == 3


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


def test_wrong_prefix_from_mirror_raises_and_leaves_nothing(server, home, monkeypatch):
    data, _ = _tiny_resnet_bytes(0)
    entry = _publish(server, monkeypatch, 'tiny_r18', data)
    monkeypatch.setitem(MODEL_STORE, 'tiny_r18', ModelEntry(**{**entry.__dict__, 'sha1': '0badc0de'}))
    server.files['/encoding/models/tiny_r18-0badc0de.zip'] = next(iter(server.files.values()))
    with pytest.raises(HashMismatchError, match='0badc0de'):
        get_model_file('tiny_r18', **FAST)
    assert not (home / 'models' / 'tiny_r18-0badc0de.pth').exists()


def test_encoding_repo_is_honoured_for_pytorch_encoding_entries(monkeypatch):
    monkeypatch.delenv('SEGTOOLS_MIRROR', raising=False)
    monkeypatch.setenv('ENCODING_REPO', 'http://repo.local/enc/')
    assert model_store.entry_urls(MODEL_STORE['resnest50']) == ['http://repo.local/enc/models/resnest50-fb9de5b3.zip']
    monkeypatch.setenv('SEGTOOLS_MIRROR', 'http://mirror.local')  # wins over ENCODING_REPO
    assert model_store.entry_urls(MODEL_STORE['resnest50']) == [
        'http://mirror.local/encoding/models/resnest50-fb9de5b3.zip'
    ]


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
    monkeypatch.setitem(MODEL_STORE, 'x', ModelEntry(name='x', fits='test', convert='encoding:resnet42'))
    (problem,) = check_manifest()
    assert problem.startswith("x: conversion spec 'encoding:resnet42': unknown encoding arch 'resnet42'")


TINY_V1C = dict(type='ResNetV1c', depth=50, stem_channels=8, base_channels=8)


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
