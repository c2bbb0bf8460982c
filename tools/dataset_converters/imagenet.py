"""Extract (or check) the ImageNet ILSVRC-2012 classification archives for ``ImageNetDataset``.

Inputs (either or both splits):

* ``--train ILSVRC2012_img_train.tar``: a tar of 1000 per-class tars ``<wnid>.tar``;
* ``--val ILSVRC2012_img_val.tar``: 50,000 flat ``ILSVRC2012_val_%08d.JPEG``, with
  ``--val-labels FILE`` naming each image's class: ``<file> <wnid>`` lines, or Kaggle's
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the prediction string starting
  with the wnid).

The archives' sha1s are checked against the published ones when the files have their
official names (as PyTorch-Encoding's ``scripts/prepare_imagenet.py`` and gluon-cv check
them), or against ``--train-sha1``/``--val-sha1``; ``--skip-sha1`` turns that off. Every
val image needs a label naming one of the train classes (those of ``--train``, else of an
existing ``OUT/train``), checked before anything is extracted. Members of the outer and the
inner tars with absolute paths, ``..`` or links are refused.

Output (``--out`` is the dataset's ``data_root``; each split is built in a temporary folder
and renamed into place)::

    OUT/train/<wnid>/<wnid>_<id>.JPEG
    OUT/val/<wnid>/ILSVRC2012_val_<id>.JPEG

Example::

    python tools/dataset_converters/imagenet.py --train ILSVRC2012_img_train.tar \\
        --val ILSVRC2012_img_val.tar --val-labels LOC_val_solution.csv --out data/imagenet --nproc 8
    python tools/dataset_converters/imagenet.py --check-only --out data/imagenet
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import tarfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from _common import (
    add_nproc_arg,
    add_out_arg,
    atomic_dir,
    check_nproc,
    extract_archive,
    extract_tar_stream,
    list_tar_files,
    require_dir,
    require_file,
    run_tasks,
    verify_sha1,
)

TRAIN_ARCHIVE = 'ILSVRC2012_img_train.tar'
VAL_ARCHIVE = 'ILSVRC2012_img_val.tar'
# PyTorch-Encoding scripts/prepare_imagenet.py, gluon-cv scripts/datasets/imagenet.py
KNOWN_SHA1 = {
    TRAIN_ARCHIVE: '43eda4fe35c1705d6606a6a7a633bc965d194284',
    VAL_ARCHIVE: '5f3f73da3395154b60528b2b2a2caf2374f5f178',
}
NUM_CLASSES = 1000
IMG_EXTENSIONS = ('.jpeg', '.jpg', '.png')
WNID = re.compile(r'n\d{8}')


# ----------------------------------------------------------------------------------------------- val labels
def _image_key(name: str) -> str:
    """``ILSVRC2012_val_00000001`` for ``val/ILSVRC2012_val_00000001.JPEG`` (Kaggle's ids have no suffix)."""
    base = PurePosixPath(name.replace('\\', '/')).name
    stem, dot, ext = base.rpartition('.')
    return stem if dot and f'.{ext.lower()}' in IMG_EXTENSIONS else base


def read_val_labels(path: Path) -> dict[str, tuple[str, str]]:
    """Read the val labels: ``<file> <wnid>`` lines or Kaggle's ``LOC_val_solution.csv``.

    Returns:
        ``{image key: (wnid, 'file:line')}``, the key being the file name without its suffix.
    """
    path = require_file(path, 'val labels: "<file> <wnid>" lines or LOC_val_solution.csv')
    lines = path.read_text().splitlines()
    is_csv = any(',' in line for line in lines[:2])
    rows = csv.reader(lines) if is_csv else (line.split() for line in lines)
    labels: dict[str, tuple[str, str]] = {}
    for line_no, row in enumerate(rows, 1):
        where = f'{path}:{line_no}'
        if not row or not ''.join(row).strip() or (is_csv and line_no == 1 and row[0].strip() == 'ImageId'):
            continue
        if is_csv:
            prediction = row[1].split() if len(row) > 1 else []
            image, wnid = row[0].strip(), prediction[0] if prediction else ''
        else:
            image, wnid = row[0], row[1] if len(row) == 2 else ''
        if not image or not wnid:
            expected = 'ImageId,"<wnid> <box> ..."' if is_csv else '<file> <wnid>'
            raise ValueError(f'{where}: expected {expected}, got {lines[line_no - 1].strip()!r}')
        key = _image_key(image)
        if key in labels and labels[key][0] != wnid:
            raise ValueError(f'{where}: {image} is labelled {wnid}, but {labels[key][1]} labels it {labels[key][0]}')
        labels[key] = (wnid, where)
    if not labels:
        raise ValueError(f'{path}: no labels; expected "<file> <wnid>" lines or LOC_val_solution.csv')
    return labels


def match_val_labels(
    images: Sequence[str],
    labels: dict[str, tuple[str, str]],
    classes: set[str] | None,
    val_tar: Path,
    labels_path: Path,
) -> dict[str, str]:
    """Give every val image its wnid; refuse unlabelled images and wnids outside ``classes``.

    Args:
        images: Member names of the val archive.
        labels: From :func:`read_val_labels`.
        classes: The train classes; ``None`` checks only that labels look like WordNet ids.
        val_tar: The val archive, for messages.
        labels_path: The labels file, for messages.

    Returns:
        ``{member name: wnid}``.
    """
    unlabelled = [name for name in images if _image_key(name) not in labels]
    if unlabelled:
        shown = ', '.join(unlabelled[:5]) + (f' and {len(unlabelled) - 5} more' if len(unlabelled) > 5 else '')
        raise ValueError(f'{val_tar}: {len(unlabelled)} images have no label in {labels_path}: {shown}')
    assigned = {}
    for name in images:
        wnid, where = labels[_image_key(name)]
        if classes is not None and wnid not in classes:
            hint = ' (integer labels are not accepted: give the wnid)' if wnid.isdigit() else ''
            raise ValueError(
                f'{where}: {name} is labelled {wnid!r}, which is not one of the {len(classes)} train classes{hint}'
            )
        if classes is None and not WNID.fullmatch(wnid):
            raise ValueError(f'{where}: {name} is labelled {wnid!r}; expected a WordNet id like n01440764')
        assigned[name] = wnid
    return assigned


# ----------------------------------------------------------------------------------------------- archives
def list_train_classes(archive: Path) -> dict[str, tuple[int, int, str]]:
    """The per-class tars of the train archive: ``{wnid: (offset of its data, size, member name)}``."""
    try:  # the workers read the inner tars at their offsets in the file, so it must not be compressed
        tarfile.open(archive, mode='r:').close()
    except tarfile.ReadError as err:
        raise ValueError(
            f'{archive}: expected an uncompressed tar of per-class tars like {TRAIN_ARCHIVE} ({err})'
        ) from err
    classes = {}
    for name, member in list_tar_files(archive):
        wnid, dot, ext = name.rpartition('.')
        if '/' in name or not dot or ext != 'tar' or not wnid:
            raise ValueError(f'{archive}: member {name!r} is not a per-class tar; expected only <wnid>.tar files')
        if wnid in classes:
            raise ValueError(f'{archive}: member {name!r} occurs twice')
        classes[wnid] = (member.offset_data, member.size, name)
    if not classes:
        raise ValueError(f'{archive}: no per-class <wnid>.tar files; is this {TRAIN_ARCHIVE}?')
    return classes


def list_val_images(archive: Path) -> list[str]:
    """The val archive's images, which must be flat image files."""
    names = [name for name, _ in list_tar_files(archive)]
    bad = [n for n in names if '/' in n or not n.lower().endswith(IMG_EXTENSIONS)]
    if bad:
        raise ValueError(f'{archive}: member {bad[0]!r} is not a flat image file; is this {VAL_ARCHIVE}?')
    if not names:
        raise ValueError(f'{archive}: holds no images; is this {VAL_ARCHIVE}?')
    return names


class _Slice:
    """``size`` bytes of ``f`` from its current position: one member of an uncompressed tar, read as a stream."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(self._left if n is None or n < 0 else min(n, self._left))
        self._left -= len(data)
        return data


def _extract_class(task: tuple[str, int, int, str, str]) -> int:
    """Extract one per-class tar, ``size`` bytes at ``offset`` of the train archive, into ``dest``."""
    archive, offset, size, member, dest = task
    with open(archive, 'rb') as f:
        f.seek(offset)
        written = extract_tar_stream(_Slice(f, size), Path(dest), f'{archive}:{member}')
    if not written:
        raise ValueError(f'{archive}: {member} holds no images')
    return len(written)


def _run(func: Callable, tasks: list, nproc: int) -> list:
    """``run_tasks``, except that a failing task cancels the tasks not started yet.

    The workers write into the temporary split folder; they must be gone before
    ``atomic_dir`` removes it, or they would recreate parts of it, so the running tasks
    are waited for. A worker that dies raises ``BrokenProcessPool`` (``multiprocessing.Pool``
    waited forever for the result of a task whose worker had died).
    """
    if check_nproc(nproc) == 1 or len(tasks) < 2:
        return run_tasks(func, tasks)
    from mmengine.utils import ProgressBar

    bar, results = ProgressBar(len(tasks)), []
    pool = ProcessPoolExecutor(min(nproc, len(tasks)))
    try:
        for future in as_completed([pool.submit(func, task) for task in tasks]):
            results.append(future.result())
            bar.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


# ----------------------------------------------------------------------------------------------- check and convert
def _count_split(split_dir: Path) -> dict[str, int]:
    """``{wnid: number of images}`` of one split; loose files or empty class folders raise."""
    loose = sorted(p.name for p in split_dir.iterdir() if p.is_file())
    if loose:
        raise ValueError(
            f'{split_dir}: holds {len(loose)} files outside class folders ({loose[0]}, ...); expected '
            f'{split_dir.name}/<wnid>/<file> (sort a flat val folder with --val and --val-labels)'
        )
    counts = {}
    for folder in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        counts[folder.name] = sum(
            1 for p in folder.rglob('*') if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS)
        )
        if not counts[folder.name]:
            raise ValueError(f'{folder}: class folder without images')
    if not counts:
        raise ValueError(f'{split_dir}: no class folders; expected {split_dir.name}/<wnid>/<file>')
    return counts


def check_layout(root: Path) -> dict[str, dict[str, int]]:
    """Check an extracted ImageNet root; return ``{split: {wnid: number of images}}`` for train and/or val."""
    root = require_dir(root, 'train/<wnid>/*.JPEG and/or val/<wnid>/*.JPEG')
    splits = {s: _count_split(root / s) for s in ('train', 'val') if (root / s).is_dir()}
    if not splits:
        raise FileNotFoundError(f'{root}: has neither train/ nor val/; expected {{train,val}}/<wnid>/*.JPEG')
    if len(splits) == 2:
        extra = sorted(set(splits['val']) - set(splits['train']))
        if extra:
            raise ValueError(f'{root / "val"}: class folders {extra[:5]} are not train classes ({len(extra)} in all)')
    return splits


def convert(
    out: Path,
    train: Path | None = None,
    val: Path | None = None,
    val_labels: Path | None = None,
    train_sha1: str | None = None,
    val_sha1: str | None = None,
    skip_sha1: bool = False,
    nproc: int = 1,
    overwrite: bool = False,
) -> dict[str, dict[str, int]]:
    """Verify, check and extract the given archives into ``out/{train,val}``; return the per-class counts."""
    out = Path(out)
    if train is None and val is None:
        raise ValueError(f'nothing to convert: give --train {TRAIN_ARCHIVE} and/or --val {VAL_ARCHIVE}')
    if val is not None and val_labels is None:
        raise ValueError('--val needs --val-labels: "<file> <wnid>" lines or Kaggle\'s LOC_val_solution.csv')
    check_nproc(nproc)
    for split, src in (('train', train), ('val', val)):
        if src is not None and (out / split).exists() and not overwrite:
            raise FileExistsError(f'{out / split} already exists; pass --overwrite to replace it')
    # Everything is checked before anything is extracted: the train archive alone takes hours.
    labels = read_val_labels(val_labels) if val is not None else None
    for src, sha1 in ((train, train_sha1), (val, val_sha1)):
        if src is not None:
            verify_sha1(require_file(src, 'an ILSVRC-2012 archive'), sha1, KNOWN_SHA1, skip=skip_sha1)
    train_classes = list_train_classes(train) if train is not None else None
    if val is not None:
        if train_classes is not None:
            classes = set(train_classes)
        elif (out / 'train').is_dir():
            classes = {p.name for p in (out / 'train').iterdir() if p.is_dir()}
        else:
            classes = None
        assigned = match_val_labels(list_val_images(val), labels, classes, val, val_labels)
        unused = len(labels) - len({_image_key(n) for n in assigned})
        if unused:
            print(f'{val_labels}: {unused} labels name images that are not in {val}')

    created = not out.exists()
    try:
        if train_classes is not None:
            with atomic_dir(out / 'train', overwrite=overwrite) as tmp:
                tasks = [(str(train), *train_classes[wnid], str(tmp / wnid)) for wnid in train_classes]
                _run(_extract_class, tasks, nproc)
        if val is not None:
            with atomic_dir(out / 'val', overwrite=overwrite) as tmp:
                flat = tmp / '.flat'
                extract_archive(val, flat)
                for name, wnid in assigned.items():
                    (tmp / wnid).mkdir(exist_ok=True)
                    (flat / name).rename(tmp / wnid / name)
                shutil.rmtree(flat)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # atomic_dir removed the split; do not leave the empty --out behind either
        raise
    return check_layout(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--train', type=Path, help=f'{TRAIN_ARCHIVE} (a tar of per-class tars)')
    parser.add_argument('--val', type=Path, help=f'{VAL_ARCHIVE} (flat images; needs --val-labels)')
    parser.add_argument('--val-labels', type=Path, help='"<file> <wnid>" lines, or Kaggle\'s LOC_val_solution.csv')
    add_out_arg(parser, 'data/imagenet')
    parser.add_argument('--train-sha1', help='expected sha1 of --train (default: the published one, official name)')
    parser.add_argument('--val-sha1', help='expected sha1 of --val (default: the published one, official name)')
    parser.add_argument('--skip-sha1', action='store_true', help='do not verify the archive checksums')
    add_nproc_arg(parser)
    parser.add_argument('--check-only', action='store_true', help='only check an extracted --out folder')
    parser.add_argument('--overwrite', action='store_true', help='replace existing --out/train or --out/val')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.check_only:
        splits = check_layout(args.out)
    else:
        splits = convert(
            args.out,
            train=args.train,
            val=args.val,
            val_labels=args.val_labels,
            train_sha1=args.train_sha1,
            val_sha1=args.val_sha1,
            skip_sha1=args.skip_sha1,
            nproc=args.nproc,
            overwrite=args.overwrite,
        )
    print(f'{args.out}: ' + ', '.join(f'{s} ({sum(c.values())} images, {len(c)} classes)' for s, c in splits.items()))
    if any(len(c) != NUM_CLASSES for c in splits.values()):
        print(
            f'note: ImageNetDataset expects {NUM_CLASSES} class folders; pass metainfo=dict(classes=[...]) for a subset'
        )


if __name__ == '__main__':
    main()
