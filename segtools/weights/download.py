"""Downloads weights into the segtools cache: resumable, verified, locked, offline-aware.

Standard library only (``urllib.request``, ``fcntl``, ``zipfile``). One call of
:func:`download_file` does, for one destination path:

1. return the cached file when it exists and its hash is right (no network);
2. fail at once when ``SEGTOOLS_OFFLINE=1``, naming the URL and the path to place the file at;
3. take an exclusive ``fcntl.flock`` on ``<dest>.lock`` so that one process per machine
   downloads while the others (other ranks) wait, then look at the cache again;
4. stream into ``<dest>.part`` with a progress line on stderr, resuming a partial file with
   ``Range: bytes=N-`` and retrying with exponential backoff;
5. for a ``.zip`` (PyTorch-Encoding's store) copy the one ``.pth`` member out of it (by our own
   file name, so a member name like ``../x`` can never write outside the cache);
6. verify the hash (sha256 or sha1, full or a prefix: an 8-hex prefix is only 32 bits) and only
   then ``os.replace`` into place; a wrong hash deletes the download and raises.

Environment: ``SEGTOOLS_HOME`` (cache root, default ``~/.cache/segtools``), ``SEGTOOLS_OFFLINE``
(``1``/``true``/``yes``: never touch the network), ``SEGTOOLS_DOWNLOAD_RETRIES`` (default 4) and
``SEGTOOLS_DOWNLOAD_BACKOFF`` (first wait in seconds, doubled per retry, default 1.0). Mirrors are
resolved by the callers (:func:`apply_mirror`).
"""

import contextlib
import fcntl
import hashlib
import http.client
import os
import os.path as osp
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from segtools.errors import SegtoolsError

ENV_HOME = 'SEGTOOLS_HOME'
ENV_OFFLINE = 'SEGTOOLS_OFFLINE'
ENV_MIRROR = 'SEGTOOLS_MIRROR'
ENV_RETRIES = 'SEGTOOLS_DOWNLOAD_RETRIES'
ENV_BACKOFF = 'SEGTOOLS_DOWNLOAD_BACKOFF'
DEFAULT_HOME = '~/.cache/segtools'
CHUNK = 1 << 16
# Shortest hash prefix accepted (8 hex digits = 32 bits, what published file names carry).
MIN_PREFIX = 8
USER_AGENT = 'segtools-downloader'
# HTTP statuses worth retrying; any other error status moves on to the next URL.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(SegtoolsError, RuntimeError):
    """Every URL failed (each one's last error is named)."""


class HashMismatchError(DownloadError):
    """The downloaded file's hash is not the expected one (the file was deleted)."""


class OfflineError(DownloadError):
    """``SEGTOOLS_OFFLINE`` is set and the file is not in the cache."""


def cache_dir() -> Path:
    """The cache root: ``$SEGTOOLS_HOME`` or ``~/.cache/segtools`` (``~`` expanded)."""
    return Path(osp.expanduser(os.environ.get(ENV_HOME) or DEFAULT_HOME))


def is_offline() -> bool:
    """Whether ``SEGTOOLS_OFFLINE`` forbids network access."""
    return os.environ.get(ENV_OFFLINE, '').strip().lower() in ('1', 'true', 'yes', 'on')


def apply_mirror(url: str, mirror: str | None) -> str:
    """``url`` with its scheme and host replaced by the base URL ``mirror``.

    ``apply_mirror('https://host/a/b/x.pth', 'http://m:8000/pre')`` is ``'http://m:8000/pre/a/b/x.pth'``:
    the path (and query) of the original URL is appended to the mirror base.

    Args:
        url: The manifest's URL.
        mirror: Base URL (``http(s)://host[:port][/prefix]``), or None/empty for no change.

    Returns:
        The URL to fetch.
    """
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    suffix = parts.path + (f'?{parts.query}' if parts.query else '')
    return mirror.rstrip('/') + '/' + suffix.lstrip('/')


def file_hash(path: str | Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def check_hash(path: str | Path, sha256: str | None = None, sha1: str | None = None) -> tuple[bool, str, str]:
    """Compares a file against the expected hash.

    A prefix of 8 hex digits (what OpenMMLab, torch.hub and PyTorch-Encoding put in their file
    names) is a 32-bit check: good against corruption, weak against a deliberate collision.

    Args:
        path: The file.
        sha256: Full sha256 hex, or a prefix of at least 8 hex digits (preferred when both are
            given; OpenMMLab's ``name-{sha256[:8]}.pth``).
        sha1: Full sha1 hex, or a prefix of at least 8 hex digits (PyTorch-Encoding's
            ``name-{sha1[:8]}.zip``).

    Returns:
        ``(ok, expected, actual)``; ``expected`` is ``''`` (and ok True) when no hash is known.

    Raises:
        ValueError: An expected hash that is not 8 to 64 (sha256) or 40 (sha1) hex digits.
    """
    validate_hashes(sha256, sha1, str(path))
    for algorithm, expected, full in (('sha256', sha256, 64), ('sha1', sha1, 40)):
        if expected:
            expected = expected.lower()
            actual = file_hash(path, algorithm)
            kind = algorithm if len(expected) == full else f'{algorithm} prefix ({len(expected)} hex)'
            return actual.startswith(expected), f'{kind} {expected}', f'{algorithm} {actual}'
    return True, '', ''


def validate_hashes(sha256: str | None, sha1: str | None, what: str) -> None:
    """Raises ``ValueError`` naming ``what`` unless each given hash is 8 to 64 (sha256) / 40 (sha1) hex digits."""
    for algorithm, expected, full in (('sha256', sha256, 64), ('sha1', sha1, 40)):
        if expected and not (
            MIN_PREFIX <= len(expected) <= full and all(c in '0123456789abcdef' for c in expected.lower())
        ):
            raise ValueError(f'expected {algorithm} {expected!r} for {what}: need {MIN_PREFIX} to {full} hex digits')


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float = 3600.0, poll: float = 0.2) -> Iterator[None]:
    """Holds an exclusive ``fcntl.flock`` on ``path`` (created if missing; never deleted).

    Args:
        path: The lock file, conventionally ``<dest>.lock``.
        timeout: Seconds to wait for another process to finish before raising.
        poll: Seconds between attempts.

    Raises:
        TimeoutError: The lock was not obtained within ``timeout`` (the holder is named by path).
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f'waited {timeout:.0f}s for the download lock {path}, held by another process'
                    ) from None
                if not told:
                    print(f'segtools: waiting for another process downloading ({path})', file=sys.stderr)
                    told = True
                time.sleep(poll)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


def _retry_settings(retries: int | None, backoff: float | None) -> tuple[int, float]:
    if retries is None:
        retries = int(os.environ.get(ENV_RETRIES, '4'))
    if backoff is None:
        backoff = float(os.environ.get(ENV_BACKOFF, '1.0'))
    return max(0, retries), max(0.0, backoff)


class _Progress:
    """A single stderr line ``name  12.3/45.6 MiB  27%``, redrawn at most every 0.5 s."""

    def __init__(self, name: str, total: int | None, enabled: bool) -> None:
        self.name, self.total, self.enabled, self.last = name, total, enabled, 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.5):
            return
        self.last = now
        mib = done / 2**20
        text = f'{self.name}  {mib:.1f} MiB'
        if self.total:
            text = f'{self.name}  {mib:.1f}/{self.total / 2**20:.1f} MiB  {100 * done // self.total}%'
        sys.stderr.write('\r' + text + ('\n' if final else ''))
        sys.stderr.flush()


def _total_size(response: http.client.HTTPResponse, offset: int) -> int | None:
    """Size of the whole file from ``Content-Range`` (206) or ``Content-Length`` (200)."""
    content_range = response.headers.get('Content-Range', '')
    if content_range and '/' in content_range and not content_range.endswith('/*'):
        return int(content_range.rsplit('/', 1)[1])
    length = response.headers.get('Content-Length')
    return int(length) + offset if length is not None else None


def _fetch_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    """One HTTP request that continues ``part`` from its current size to the end of the file.

    Raises:
        urllib.error.HTTPError: Error status (416 means ``part`` is already complete: handled here).
        OSError / http.client.HTTPException: The connection failed or ended early.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
    if offset:
        request.add_header('Range', f'bytes={offset}-')
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) checked by the caller
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return  # nothing left to send: the part already holds the whole file
        raise
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header: start again
        total = _total_size(response, offset)
        bar = _Progress(osp.basename(urllib.parse.urlsplit(url).path), total, progress)
        done = offset
        with open(part, 'ab' if offset else 'wb') as file:
            while block := response.read(CHUNK):
                file.write(block)
                done += len(block)
                bar.update(done)
            file.flush()
            os.fsync(file.fileno())
        bar.update(done, final=True)
    if total is not None and done < total:
        raise http.client.IncompleteRead(b'', total - done)


def _fetch(url: str, part: Path, retries: int, backoff: float, timeout: float, progress: bool) -> None:
    """:func:`_fetch_once` with retries; a partial file is kept and resumed between attempts."""
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, timeout, progress)
            return
        except urllib.error.HTTPError as error:
            if error.code not in RETRY_STATUSES or attempt == retries:
                raise
            reason = f'HTTP {error.code}'
        except (OSError, http.client.HTTPException) as error:
            if attempt == retries:
                raise
            reason = f'{type(error).__name__}: {error}'
        wait = backoff * 2**attempt
        print(
            f'segtools: download of {url} interrupted ({reason}); retry {attempt + 1}/{retries} in {wait:.1f}s',
            file=sys.stderr,
        )
        time.sleep(wait)


def extract_single_member(archive: str | Path, target: str | Path, suffix: str = '.pth') -> None:
    """Copies the one ``*suffix`` member of a zip to ``target`` (no path from the archive is used).

    Raises:
        DownloadError: The zip holds no such member, or more than one.
    """
    with zipfile.ZipFile(archive) as zipped:
        members = [info for info in zipped.infolist() if not info.is_dir() and info.filename.endswith(suffix)]
        if len(members) != 1:
            names = [info.filename for info in zipped.infolist()]
            raise DownloadError(f'{archive}: expected exactly one {suffix} file in the zip, found {names}')
        with zipped.open(members[0]) as source, open(target, 'wb') as sink:
            shutil.copyfileobj(source, sink, CHUNK)


def download_file(
    urls: str | Sequence[str],
    dest: str | Path,
    sha256: str | None = None,
    sha1: str | None = None,
    unzip: bool = False,
    retries: int | None = None,
    backoff: float | None = None,
    timeout: float = 60.0,
    progress: bool | None = None,
    lock_timeout: float = 3600.0,
) -> Path:
    """Returns ``dest``, downloading and verifying it first unless it is already cached.

    Args:
        urls: URL(s) tried in order; the first that succeeds is used.
        dest: Final path (the verified ``.pth``, also when the download is a zip).
        sha256: Expected sha256 of ``dest``, full or a prefix.
        sha1: Expected sha1 of ``dest``, full or a prefix.
        unzip: The URL serves a zip whose single ``.pth`` member becomes ``dest``.
        retries: Retries per URL (default ``$SEGTOOLS_DOWNLOAD_RETRIES`` or 4).
        backoff: First wait between retries in seconds, doubled each time (default
            ``$SEGTOOLS_DOWNLOAD_BACKOFF`` or 1.0).
        timeout: Socket timeout per request in seconds.
        progress: Show a progress line on stderr (default: when stderr is a terminal).
        lock_timeout: Seconds to wait for another process holding the download lock.

    Returns:
        ``dest`` as a Path.

    Raises:
        OfflineError: ``SEGTOOLS_OFFLINE`` is set and ``dest`` is not cached.
        HashMismatchError: The downloaded file has the wrong hash (it was deleted).
        DownloadError: Every URL failed.
        ValueError: ``sha256``/``sha1`` is not a hex digest or a prefix of at least 8 hex digits.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    validate_hashes(sha256, sha1, str(dest))
    if _valid_cached(dest, sha256, sha1):
        return dest
    if is_offline():
        raise OfflineError(
            f'{ENV_OFFLINE} is set and {dest} is not in the cache. Download {" or ".join(urls) or "the file"} by hand '
            f'{"(a zip: put its .pth file) " if unzip else ""}and place it at {dest}'
        )
    if not urls:
        raise DownloadError(f'{dest} is not cached and no URL is known for it; place the file there by hand')
    bad = [url for url in urls if urllib.parse.urlsplit(url).scheme not in ('http', 'https')]
    if bad:
        raise DownloadError(f'only http(s) URLs are downloaded, got {bad}')
    retries, backoff = _retry_settings(retries, backoff)
    progress = sys.stderr.isatty() if progress is None else progress
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(f'{dest}.lock', timeout=lock_timeout):
        if _valid_cached(dest, sha256, sha1):  # another process finished it while we waited
            return dest
        errors = []
        for url in urls:
            part = Path(f'{dest}.part')
            try:
                _fetch(url, part, retries, backoff, timeout, progress)
            except (OSError, http.client.HTTPException) as error:
                errors.append(f'{url}: {type(error).__name__}: {error}')
                continue
            _finish(part, dest, url, sha256, sha1, unzip)
            return dest
    raise DownloadError(f'could not download {dest.name}; ' + '; '.join(errors))


def _valid_cached(dest: Path, sha256: str | None, sha1: str | None) -> bool:
    """Whether ``dest`` exists with the right hash; a wrong cached file is deleted (re-download)."""
    if not dest.is_file():
        return False
    ok, expected, actual = check_hash(dest, sha256, sha1)
    if not ok:
        print(f'segtools: cached {dest} has {actual}, expected {expected}; downloading it again', file=sys.stderr)
        dest.unlink()
    return ok


def _finish(part: Path, dest: Path, url: str, sha256: str | None, sha1: str | None, unzip: bool) -> None:
    """Extracts (zip), verifies and atomically renames the download into ``dest``."""
    candidate = part
    try:
        if unzip:
            candidate = Path(f'{dest}.extract')
            try:
                extract_single_member(part, candidate)
            except zipfile.BadZipFile as error:
                raise DownloadError(f'{url} did not deliver a zip file ({error})') from error
        ok, expected, actual = check_hash(candidate, sha256, sha1)
        if not ok:
            raise HashMismatchError(
                f'{url} delivered a file with {actual}, expected {expected}; the download was deleted. '
                'Retry, or check the mirror/URL; a file placed by hand must have the expected hash.'
            )
        os.replace(candidate, dest)
    finally:
        for leftover in {part, candidate}:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
