"""Pieces shared by the dataset converters: arguments, sha1 checks, safe extraction, atomic writes, progress.

The converters import this module as ``_common``: run as scripts
(``python tools/dataset_converters/ade20k.py``), their own folder is first on
``sys.path``. Atomic writes come from :mod:`segtools.utils.fileio`, so segtools must be
importable (installed, or the repository root on ``PYTHONPATH``) to run a converter.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import cv2
import numpy as np

from segtools.utils.fileio import atomic_write_bytes


# ----------------------------------------------------------------------------------------------- arguments
def add_out_arg(parser: argparse.ArgumentParser, default: str, help_text: str = 'output dataset root') -> None:
    parser.add_argument('--out', type=Path, default=Path(default), help=f'{help_text} (default: {default})')


def add_nproc_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--nproc', type=int, default=1, help='worker processes for the per-file work (default: 1)')


def add_sha1_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--sha1',
        default=None,
        help='expected sha1 of the archive; defaults to the published one when the archive has its official name',
    )
    parser.add_argument('--skip-sha1', action='store_true', help='do not verify the archive checksum')


def check_nproc(nproc: int) -> int:
    if nproc < 1:
        raise ValueError(f'--nproc must be >= 1, got {nproc}')
    return nproc


# ----------------------------------------------------------------------------------------------- checks
def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise ``FileNotFoundError`` naming it and what it should be."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found; expected {what}')
    return path


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a folder, else raise ``FileNotFoundError`` naming it and what it should hold."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f'{path} is not a folder; expected {what}')
    return path


def sha1sum(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha1 of a file, read in chunks (archives are gigabytes)."""
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha1(
    path: Path,
    sha1: str | None,
    known: dict[str, str] | None = None,
    skip: bool = False,
) -> None:
    """Check an archive against ``sha1``, or against ``known[basename]`` when no sha1 is given.

    Args:
        path: The archive.
        sha1: Expected hex digest from the command line, or ``None``.
        known: Published digests of the official archive names.
        skip: Do not check at all.
    """
    if skip:
        return
    expected = sha1 or (known or {}).get(Path(path).name)
    if expected is None:
        return
    actual = sha1sum(path)
    if actual.lower() != expected.strip().lower():
        raise ValueError(
            f'{path}: sha1 is {actual}, expected {expected}; the file is corrupt, truncated or a different '
            'release. Download it again, or pass --sha1/--skip-sha1 if you know it is right.'
        )


# ----------------------------------------------------------------------------------------------- extraction
def _safe_member_path(name: str, archive: Path | str) -> PurePosixPath | None:
    """The relative path of an archive member, or an error if it would leave the destination."""
    posix = PurePosixPath(name.replace('\\', '/'))
    if posix.is_absolute() or name.startswith('/') or (len(name) > 1 and name[1] == ':'):
        raise ValueError(f'{archive}: member {name!r} has an absolute path; refusing to extract it')
    if '..' in posix.parts:
        raise ValueError(f'{archive}: member {name!r} points outside the destination ("..")')
    parts = [p for p in posix.parts if p not in ('', '.')]
    return PurePosixPath(*parts) if parts else None


def extract_archive(
    archive: Path,
    dest: Path,
    strip_prefix: str = '',
    select: Callable[[str], bool] | None = None,
) -> list[Path]:
    """Extract a zip or tar(.gz/.bz2/.xz) archive, refusing members that would escape ``dest``.

    Absolute paths, ``..`` components, links and device files raise ``ValueError`` (a
    crafted archive must not write outside ``dest``); directories are created as needed.

    Args:
        archive: The archive file.
        dest: Destination folder (created).
        strip_prefix: Leading folder(s) removed from member names (``'ADEChallengeData2016/'``);
            members outside it are skipped.
        select: Keep only members whose (stripped) name passes this test.

    Returns:
        The extracted files.
    """
    archive = require_file(archive, 'a .zip or .tar(.gz) archive')
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    prefix = PurePosixPath(strip_prefix.strip('/')) if strip_prefix.strip('/') else None

    def target(name: str) -> Path | None:
        rel = _safe_member_path(name, archive)
        if rel is None:
            return None
        if prefix is not None:
            if rel.parts[: len(prefix.parts)] != prefix.parts:
                return None
            rel = PurePosixPath(*rel.parts[len(prefix.parts) :]) if len(rel.parts) > len(prefix.parts) else None
            if rel is None:
                return None
        if select is not None and not select(str(rel)):
            return None
        return dest.joinpath(*rel.parts)

    written = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                path = target(info.filename)
                if path is None or info.is_dir():
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ValueError(f'{archive}: member {info.filename!r} is a symbolic link; refusing to extract it')
                path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(path, 'wb') as dst:
                    shutil.copyfileobj(src, dst)
                written.append(path)
        return written
    if not tarfile.is_tarfile(archive):
        raise ValueError(f'{archive}: not a zip or tar archive; expected a .zip, .tar, .tar.gz or .tgz file')
    with tarfile.open(archive) as tf:
        return _extract_tar_members(tf, archive, target)


def _extract_tar_members(tf: tarfile.TarFile, archive: Path | str, target: Callable[[str], Path | None]) -> list[Path]:
    """Write the regular-file members of an open tar where ``target`` puts them; links and special files raise."""
    written = []
    for member in tf:
        path = target(member.name)
        if path is None or member.isdir():
            continue
        if not member.isfile():
            raise ValueError(f'{archive}: member {member.name!r} is a link or special file; refusing to extract it')
        path.parent.mkdir(parents=True, exist_ok=True)
        src = tf.extractfile(member)
        with src, open(path, 'wb') as dst:
            shutil.copyfileobj(src, dst)
        written.append(path)
    return written


def extract_tar_stream(fileobj: BinaryIO, dest: Path, name: str) -> list[Path]:
    """Extract a tar read front to back from ``fileobj`` (a tar inside another archive), checked as ``extract_archive``.

    Args:
        fileobj: The (optionally compressed) tar; only ``read`` is called.
        dest: Destination folder (created).
        name: What the stream is, for messages (``'ILSVRC2012_img_train.tar:n01440764.tar'``).

    Returns:
        The extracted files.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    def target(member_name: str) -> Path | None:
        rel = _safe_member_path(member_name, name)
        return None if rel is None else dest.joinpath(*rel.parts)

    try:
        with tarfile.open(fileobj=fileobj, mode='r|*') as tf:
            return _extract_tar_members(tf, name, target)
    except tarfile.TarError as err:
        raise ValueError(f'{name}: not a readable tar archive ({err})') from err


def list_tar_files(archive: Path) -> list[tuple[str, tarfile.TarInfo]]:
    """The regular files of a tar with their cleaned relative names, checked as ``extract_archive`` checks them.

    Only the member headers are read (an uncompressed tar is seeked through), so listing a
    100 GB archive is quick. Absolute paths, ``..`` components, links and special files raise
    ``ValueError`` naming the member.

    Returns:
        ``(relative name, member)`` for each regular file, in archive order.
    """
    archive = require_file(archive, 'a .tar archive')
    if not tarfile.is_tarfile(archive):
        raise ValueError(f'{archive}: not a tar archive')
    files = []
    with tarfile.open(archive) as tf:
        for member in tf:
            rel = _safe_member_path(member.name, archive)
            if rel is None or member.isdir():
                continue
            if not member.isfile() or member.issparse():
                raise ValueError(f'{archive}: member {member.name!r} is a link or special file; refusing to extract it')
            files.append((str(rel), member))
    return files


# ----------------------------------------------------------------------------------------------- atomic writes
def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    atomic_write_bytes(path, data)


def write_lines_atomic(path: Path, lines: Sequence[str]) -> None:
    """Write one item per line (a split list) atomically."""
    write_bytes_atomic(path, ''.join(f'{line}\n' for line in lines).encode())


def write_png_atomic(path: Path, array: np.ndarray) -> None:
    """Encode a (H, W) uint8 mask or (H, W, 3) BGR image as PNG and write it atomically."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise OSError(f'could not encode {path} as PNG (array {array.shape} {array.dtype})')
    write_bytes_atomic(path, buf.tobytes())


@contextmanager
def atomic_dir(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out`` that replaces ``out`` only if the block succeeds.

    An interrupted conversion leaves no half-written dataset behind.

    Args:
        out: Final folder.
        overwrite: Replace an existing ``out``; otherwise an existing ``out`` is an error.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out} already exists; pass --overwrite to replace it')
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}-', dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f'.{out.name}-old-', dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------------------------- masks
def read_mask(path: Path) -> np.ndarray:
    """Read a single-channel label PNG unchanged; raise naming the file if it is unreadable or colour."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f'{path}: could not be decoded; expected a single-channel label PNG')
    if mask.ndim != 2:
        raise ValueError(f'{path}: has shape {mask.shape}; expected a single-channel (H, W) label PNG')
    return mask


def apply_lut(mask: np.ndarray, lut: np.ndarray, path: Path, valid: np.ndarray | None = None) -> np.ndarray:
    """Map a uint8 mask through a 256-entry table; values outside ``valid`` raise naming the file.

    Args:
        mask: (H, W) uint8 label map.
        lut: (256,) uint8 table, old id -> new id.
        path: The mask file, for messages.
        valid: (256,) bool, which old ids may occur; ``None`` accepts all.

    Returns:
        (H, W) uint8 mapped mask.
    """
    if mask.dtype != np.uint8:
        raise ValueError(f'{path}: mask dtype is {mask.dtype}; expected 8-bit label ids')
    if valid is not None:
        bad = ~valid[mask]
        if bad.any():
            values = np.unique(mask[bad]).tolist()
            raise ValueError(f'{path}: unexpected label values {values}; expected {describe_valid(valid)}')
    return lut[mask]


def describe_valid(valid: np.ndarray) -> str:
    """Render a bool table of allowed ids as ranges (``0..181, 255``)."""
    ids = np.flatnonzero(valid).tolist()
    ranges, start = [], None
    for i, v in enumerate(ids):
        if start is None:
            start = v
        if i + 1 == len(ids) or ids[i + 1] != v + 1:
            ranges.append(str(start) if start == v else f'{start}..{v}')
            start = None
    return 'values in ' + ', '.join(ranges)


# ----------------------------------------------------------------------------------------------- COCO-style masks
def rle_decode(counts: str | bytes | Sequence[int], height: int, width: int) -> np.ndarray:
    """Decode a COCO run-length encoding into a (height, width) uint8 0/1 mask.

    Runs alternate background/foreground starting with background, over the pixels in
    column-major (Fortran) order. ``counts`` is either the list of run lengths
    (uncompressed RLE, used for crowd annotations) or the compressed string: each run
    is a variable-length number in 5-bit groups (chr(48 + group), bit 0x20 = more
    groups follow, bit 0x10 of the last group = negative), and from the third run on
    the value is stored as the difference to the run two places earlier.

    Args:
        counts: Compressed string/bytes or a list of run lengths.
        height: Mask height.
        width: Mask width.

    Returns:
        (height, width) uint8 mask.
    """
    if isinstance(counts, str | bytes):
        data = counts.encode() if isinstance(counts, str) else counts
        runs: list[int] = []
        p = 0
        while p < len(data):
            value, shift, more = 0, 0, True
            while more:
                if p >= len(data):
                    raise ValueError(f'truncated compressed RLE string {data[:40]!r}')
                c = data[p] - 48
                value |= (c & 0x1F) << shift
                more = bool(c & 0x20)
                p += 1
                shift += 5
                if not more and c & 0x10:
                    value -= 1 << shift  # sign-extend
            if len(runs) > 2:
                value += runs[-2]
            runs.append(value)
    else:
        runs = [int(v) for v in counts]
    total = height * width
    if any(r < 0 for r in runs) or sum(runs) != total:
        raise ValueError(
            f'RLE runs sum to {sum(runs)} with min {min(runs, default=0)}; expected {total} = {height}x{width}'
        )
    values = np.zeros(len(runs), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, runs)
    return flat.reshape((width, height)).T.copy()


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (``[[x1, y1, x2, y2, ...], ...]``) into a (height, width) uint8 0/1 mask."""
    mask = np.zeros((height, width), dtype=np.uint8)
    pts = [np.round(np.asarray(p, dtype=np.float64).reshape(-1, 2)).astype(np.int32) for p in polygons if len(p) >= 6]
    if pts:
        cv2.fillPoly(mask, pts, 1)
    return mask


def segmentation_to_mask(segmentation: object, height: int, width: int, where: str) -> np.ndarray:
    """Decode a COCO/Detail ``segmentation`` field (polygons, RLE dict, compressed or not) to a 0/1 mask.

    Args:
        segmentation: A list of polygons, or ``{'counts': str | list, 'size': [h, w]}``.
        height: Image height.
        width: Image width.
        where: Which annotation this is, for error messages (``'file.json: annotation 7'``).

    Returns:
        (height, width) uint8 mask.
    """
    if isinstance(segmentation, list):
        return polygons_to_mask(segmentation, height, width)
    if isinstance(segmentation, dict) and 'counts' in segmentation:
        size = segmentation.get('size', [height, width])
        if list(size) != [height, width]:
            raise ValueError(f'{where}: RLE size {size} differs from the image size [{height}, {width}]')
        try:
            return rle_decode(segmentation['counts'], height, width)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from err
    raise ValueError(f'{where}: segmentation is {type(segmentation).__name__}; expected polygons or an RLE dict')


# ----------------------------------------------------------------------------------------------- progress
def run_tasks(func: Callable, tasks: Sequence, nproc: int = 1) -> list:
    """Apply ``func`` to every task with a progress bar, in ``nproc`` processes when > 1.

    ``func`` must be a module-level function (it is pickled for the workers).
    """
    from mmengine.utils import track_parallel_progress, track_progress

    tasks = list(tasks)
    if not tasks:
        return []
    if check_nproc(nproc) > 1 and len(tasks) > 1:
        return track_parallel_progress(func, tasks, nproc=min(nproc, len(tasks)))
    return track_progress(func, tasks)
