"""Weights-only checkpoint loading (segtools.weights.loading), also through every path mmengine loads by
(the loaders segtools.weights.registration registers: init_cfg Pretrained, load_from, resume, URLs)."""

import builtins
import functools
import http.server
import inspect
import os
import pickle
import shutil
import threading

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner, load_checkpoint

from segtools.registry import MODELS
from segtools.weights.loading import (
    SAFE_GLOBALS,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    check_safe_globals,
    load_from_local_safe,
    url_cache_path,
)
from segtools.weights.registration import setup_safe_checkpointing

from ..test_engine.test_hooks.test_plain_checkpoint_state_hook import message_hub_state


class RunsCode:
    """Unpickling an instance would call ``os.system`` (a classic malicious checkpoint)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_code_executing_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match='Refusing to load checkpoint') as info:
        load_from_local_safe(str(path))
    assert str(path) in str(info.value) and 'system' in str(info.value)
    assert not marker.exists()

    # Through mmengine's own entry point, as Runner.load_checkpoint and resume use it.
    setup_safe_checkpointing()
    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint(str(path))
    assert not marker.exists()


def test_plain_mmengine_message_hub_needs_getattr_and_is_never_unpickled(tmp_path):
    # What an mmengine checkpoint stores without PlainCheckpointStateHook: HistoryBuffer
    # pickles its statistics methods through builtins.getattr, which is never allowed.
    path = tmp_path / 'mmengine.pth'
    torch.save({'message_hub': message_hub_state()}, path)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert any(name.endswith('getattr') for name in unsafe)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer was not an allowed global'):
        torch.load(path, weights_only=True)
    # segtools loads such a file with inert stand-ins and leaves the records out
    # (tests/test_weights/test_inert_records.py): the buffers never come back.
    loaded = load_from_local_safe(str(path))
    assert dict(loaded['message_hub']['log_scalars']) == {}


def test_allow_list_has_no_callables():
    assert all(inspect.isclass(entry) for entry in SAFE_GLOBALS)
    check_safe_globals(SAFE_GLOBALS)
    setup_safe_checkpointing()
    allowed = [entry[0] if isinstance(entry, tuple) else entry for entry in torch.serialization.get_safe_globals()]
    for dangerous in (builtins.getattr, builtins.eval, builtins.exec, os.system, builtins.__import__):
        assert dangerous not in allowed


@pytest.mark.parametrize('entry', [builtins.getattr, builtins.eval, os.system, print, RunsCode, os])
def test_check_safe_globals_rejects_code_paths(entry):
    with pytest.raises(TypeError, match='allow-list'):
        check_safe_globals([entry])


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / 'iter_4.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.0)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match='iter_4.pth'):
        load_from_local_safe(str(path))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_from_local_safe(str(tmp_path / 'missing.pth'))


def test_safe_loader_keeps_state_dicts(tmp_path):
    path = tmp_path / 'weights.pth'
    state = {'state_dict': {'conv.weight': torch.randn(2, 3, 3, 3)}, 'meta': {'iter': 3, 'classes': ('a', 'b')}}
    torch.save(state, path)
    loaded = load_from_local_safe(str(path))
    torch.testing.assert_close(loaded['state_dict']['conv.weight'], state['state_dict']['conv.weight'])
    assert loaded['meta'] == state['meta']
    assert pickle.UnpicklingError in UnsafeCheckpointError.__mro__


# --- Every loading path refuses a code-executing pickle (weights-only loaders for all schemes) ---


class _TinyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.linear(inputs)


@pytest.fixture
def evil(tmp_path):
    """``(path, marker)``: a checkpoint whose unpickling would create ``marker``."""
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'linear.weight': torch.zeros(2, 2)}, 'meta': RunsCode(str(marker))}, path)
    setup_safe_checkpointing()
    return path, marker


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """``(folder, base_url)``: a 127.0.0.1 server of ``folder``; ``$SEGTOOLS_HOME`` is a fresh folder."""
    folder = tmp_path / 'served'
    folder.mkdir()
    monkeypatch.setenv('SEGTOOLS_HOME', str(tmp_path / 'home'))
    monkeypatch.delenv('SEGTOOLS_OFFLINE', raising=False)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True).start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_every_mmengine_scheme_has_a_segtools_loader():
    setup_safe_checkpointing()
    schemes = dict(CheckpointLoader._schemes)
    for prefix in ('', 'http://', 'https://', 'torchvision://', 'open-mmlab://', 'mmcls://', 'pavi://', 'segtools://'):
        assert prefix in schemes
    assert all(loader.__module__.startswith('segtools.') for loader in schemes.values()), schemes
    with pytest.raises(ValueError, match='pavi://'):
        CheckpointLoader.load_checkpoint('pavi://some/model')


def test_init_cfg_pretrained_local_path_refuses(evil):
    path, marker = evil
    backbone = MODELS.build(
        dict(type='ResNet', depth=18, base_channels=8, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    )
    with pytest.raises(UnsafeCheckpointError):
        backbone.init_weights()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(backbone, str(path))
    assert not marker.exists()


@pytest.mark.parametrize('resume', [False, True])
def test_runner_load_from_and_resume_refuse(evil, tmp_path, resume):
    path, marker = evil
    runner = Runner(
        model=_TinyModel(),
        work_dir=str(tmp_path / 'run'),
        load_from=str(path),
        resume=resume,
        experiment_name=f'refuse_{resume}_{os.getpid()}',
    )
    with pytest.raises(UnsafeCheckpointError):
        runner.load_or_resume()
    assert not marker.exists()


def test_http_loader_downloads_into_cache_and_loads_weights_only(evil, http_dir, tmp_path):
    path, marker = evil
    folder, base = http_dir
    shutil.copy(path, folder / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(f'{base}/evil.pth')
    assert not marker.exists()

    torch.save({'state_dict': {'w': torch.arange(3.0)}}, folder / 'good.pth')
    loaded = CheckpointLoader.load_checkpoint(f'{base}/good.pth')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.0))
    cached = url_cache_path(f'{base}/good.pth')
    assert cached == str(tmp_path / 'home' / 'url' / base.split('//')[1].replace(':', '_') / 'good.pth')
    assert os.path.isfile(cached)


def test_url_cache_path_never_leaves_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('SEGTOOLS_HOME', str(tmp_path))
    for url in ('http://h/../../etc/x.pth', 'http://h/a//b.pth', 'http://h/x.pth?token=1'):
        cached = os.path.realpath(url_cache_path(url))
        assert cached.startswith(str(tmp_path / 'url') + os.sep), url
        assert os.path.basename(cached) in ('x.pth', 'b.pth')
