"""segtools.weights.download against an HTTP server on 127.0.0.1 with Range support and fault injection."""

import hashlib
import http.server
import io
import multiprocessing
import re
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

from segtools.weights.download import (
    DownloadError,
    HashMismatchError,
    OfflineError,
    apply_mirror,
    cache_dir,
    check_hash,
    download_file,
    extract_single_member,
)

from ..tool_process import start_method

FAST = dict(retries=2, backoff=0.0, timeout=10.0, progress=False)


class FileServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes) with ``Range: bytes=N-``; faults per path, every request logged."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # first request of the path sends only N bytes, then closes
        self.corrupt: set[str] = set()  # served with the first byte flipped
        self.slow: dict[str, float] = {}  # pause mid-body (lets another process queue up on the lock)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}{path}'

    def gets(self, path: str) -> list[str | None]:
        """Range headers of the requests for ``path``."""
        return [rng for got, rng in self.requests if got == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server: FileServer = self.server
        rng = self.headers.get('Range')
        with server.lock:
            server.requests.append((self.path, rng))
            drop = server.drop_after.pop(self.path, None)
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        if self.path in server.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = int(re.fullmatch(r'bytes=(\d+)-', rng).group(1)) if rng else 0
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        self.send_header('Content-Length', str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if drop is not None:
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            return
        half = len(body) // 2
        self.wfile.write(body[:half])
        self.wfile.flush()
        time.sleep(server.slow.get(self.path, 0.0))
        self.wfile.write(body[half:])


@pytest.fixture
def server():
    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _checkpoint_bytes(seed: int = 0) -> bytes:
    """A real small torch checkpoint (state dict of a conv layer)."""
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save({'state_dict': torch.nn.Conv2d(3, 8, 3).state_dict()}, buffer)
    return buffer.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_download_verifies_caches_and_second_call_uses_cache(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    dest = tmp_path / 'cache' / 'w.pth'
    assert download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST) == dest
    assert dest.read_bytes() == data
    assert torch.load(dest, weights_only=True)['state_dict']['weight'].shape == (8, 3, 3, 3)
    assert not Path(f'{dest}.part').exists()
    assert server.gets('/w.pth') == [None]

    # Second call: cache only, even with the server gone.
    server.files.clear()
    assert download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST) == dest
    assert len(server.requests) == 1


def test_wrong_hash_deletes_file_and_names_both_hashes(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    server.corrupt.add('/w.pth')
    dest = tmp_path / 'w.pth'
    with pytest.raises(HashMismatchError) as info:
        download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST)
    served = bytes([data[0] ^ 0xFF]) + data[1:]
    message = str(info.value)
    assert _sha256(data) in message and _sha256(served) in message and server.url('/w.pth') in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ['w.pth.lock']  # no final, no partial file


def test_sha1_prefix_is_verified(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    sha1 = hashlib.sha1(data).hexdigest()
    with pytest.raises(HashMismatchError, match=r'sha1 prefix \(8 hex\) 00000000'):
        download_file(server.url('/w.pth'), tmp_path / 'bad.pth', sha1='00000000', **FAST)
    assert download_file(server.url('/w.pth'), tmp_path / 'ok.pth', sha1=sha1[:8], **FAST).read_bytes() == data


def test_dropped_connection_is_resumed_with_range(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    server.drop_after['/w.pth'] = 1000
    dest = tmp_path / 'w.pth'
    download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST)
    assert dest.read_bytes() == data
    assert server.gets('/w.pth') == [None, 'bytes=1000-']


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    dest = tmp_path / 'w.pth'
    Path(f'{dest}.part').write_bytes(data[:777])
    download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST)
    assert dest.read_bytes() == data and server.gets('/w.pth') == ['bytes=777-']


def test_cached_file_with_wrong_hash_is_downloaded_again(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    dest = tmp_path / 'w.pth'
    dest.write_bytes(b'garbage')
    download_file(server.url('/w.pth'), dest, sha256=_sha256(data), **FAST)
    assert dest.read_bytes() == data and len(server.requests) == 1


def test_two_processes_download_once(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/w.pth'] = data
    server.slow['/w.pth'] = 1.0
    dest = tmp_path / 'w.pth'
    context = multiprocessing.get_context(start_method())
    kwargs = dict(sha256=_sha256(data), **FAST)
    workers = [context.Process(target=download_file, args=(server.url('/w.pth'), dest), kwargs=kwargs) for _ in '12']
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert dest.read_bytes() == data
    assert server.gets('/w.pth') == [None]  # the body was served once


def test_offline_fails_fast_naming_url_and_path(server, tmp_path, monkeypatch):
    monkeypatch.setenv('SEGTOOLS_OFFLINE', '1')
    server.files['/w.pth'] = b'x'
    dest = tmp_path / 'w.pth'
    with pytest.raises(OfflineError) as info:
        download_file(server.url('/w.pth'), dest, **FAST)
    assert str(dest) in str(info.value) and server.url('/w.pth') in str(info.value)
    assert 'SEGTOOLS_OFFLINE' in str(info.value)
    assert server.requests == []
    # A file placed by hand is used offline.
    dest.write_bytes(b'x')
    assert download_file(server.url('/w.pth'), dest, sha256=_sha256(b'x'), **FAST) == dest


def test_missing_url_falls_through_to_the_next_and_all_failing_is_named(server, tmp_path):
    data = _checkpoint_bytes()
    server.files['/b.pth'] = data
    dest = tmp_path / 'w.pth'
    download_file([server.url('/a.pth'), server.url('/b.pth')], dest, sha256=_sha256(data), **FAST)
    assert dest.read_bytes() == data
    with pytest.raises(DownloadError, match='404'):
        download_file(server.url('/missing.pth'), tmp_path / 'm.pth', **FAST)
    with pytest.raises(DownloadError, match='only http'):
        download_file('file:///etc/passwd', tmp_path / 'p.pth', **FAST)


def test_zip_member_is_extracted_and_hash_checked_on_the_pth(server, tmp_path):
    data = _checkpoint_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as zipped:
        zipped.writestr('../../evil/w-12345678.pth', data)  # the member name is never used as a path
    server.files['/w.zip'] = archive.getvalue()
    dest = tmp_path / 'models' / 'w.pth'
    download_file(server.url('/w.zip'), dest, sha1=hashlib.sha1(data).hexdigest()[:8], unzip=True, **FAST)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ['w.pth', 'w.pth.lock']
    assert not (tmp_path / 'evil').exists()


def test_zip_with_several_pth_files_is_refused(tmp_path):
    archive = tmp_path / 'two.zip'
    with zipfile.ZipFile(archive, 'w') as zipped:
        zipped.writestr('a.pth', b'1')
        zipped.writestr('b.pth', b'2')
    with pytest.raises(DownloadError, match=r"exactly one \.pth.*'a.pth', 'b.pth'"):
        extract_single_member(archive, tmp_path / 'out.pth')


def test_mirror_replaces_scheme_and_host_and_keeps_the_path():
    url = 'https://s3.example.com/encoding/models/x-1234abcd.zip?v=1'
    assert apply_mirror(url, 'http://127.0.0.1:9/pre/') == 'http://127.0.0.1:9/pre/encoding/models/x-1234abcd.zip?v=1'
    assert apply_mirror(url, None) == url


def test_cache_dir_follows_segtools_home(tmp_path, monkeypatch):
    monkeypatch.setenv('SEGTOOLS_HOME', str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv('SEGTOOLS_HOME')
    assert cache_dir() == Path.home() / '.cache' / 'segtools'


def test_check_hash_without_expected_hash_accepts(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'abc')
    assert check_hash(path) == (True, '', '')
    assert check_hash(path, sha1=hashlib.sha1(b'abc').hexdigest())[0]


def test_sha256_prefix_is_verified_and_bad_hashes_are_refused_up_front(server, tmp_path):
    data = b'openmmlab weights'
    server.files['/r-abc.pth'] = data
    sha256 = _sha256(data)
    with pytest.raises(HashMismatchError, match=r'sha256 prefix \(8 hex\) 00000000'):
        download_file(server.url('/r-abc.pth'), tmp_path / 'bad.pth', sha256='00000000', **FAST)
    assert download_file(server.url('/r-abc.pth'), tmp_path / 'ok.pth', sha256=sha256[:8], **FAST).read_bytes() == data
    assert check_hash(tmp_path / 'ok.pth', sha256=sha256.upper())[0]
    requests = len(server.requests)
    for bad in ('abc', 'xyz12345', sha256 + '0'):
        with pytest.raises(ValueError, match='need 8 to 64 hex digits'):
            download_file(server.url('/r-abc.pth'), tmp_path / 'never.pth', sha256=bad, **FAST)
    assert len(server.requests) == requests  # refused before any request
