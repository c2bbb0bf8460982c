"""Extract (or check) the MINC-2500 material-recognition archive for ``MINCDataset``.

Input: ``minc-2500.tar.gz`` (Bell et al., CVPR 2015; sha1 checked against the
published ``bcccbb3b...`` when the file has its official name, or ``--sha1``), or an
already extracted ``minc-2500`` folder (``--check-only``).

Output (``--out`` is the dataset's ``data_root``; built in a temporary folder and
renamed into place)::

    OUT/images/<class>/<class>_<id>.jpg         23 class folders
    OUT/labels/{train,validate,test}{1..5}.txt  lines ``images/<class>/<class>_<id>.jpg``
    OUT/categories.txt, README.txt              (when the archive has them)

Checks: every one of the 23 classes has a folder, at least one split list exists, and
every line of every list names an existing image of a known class.

Example::

    python tools/dataset_converters/minc.py minc-2500.tar.gz --out data/minc-2500
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from _common import add_out_arg, add_sha1_args, atomic_dir, extract_archive, require_dir, require_file, verify_sha1

ARCHIVE = 'minc-2500.tar.gz'
KNOWN_SHA1 = {ARCHIVE: 'bcccbb3b1ab396ef540f024a5ba23eff54f7fe31'}  # PyTorch-Encoding scripts/prepare_minc.py
TOP_FOLDER = 'minc-2500'
MINC_CLASSES = (
    'brick', 'carpet', 'ceramic', 'fabric', 'foliage', 'food', 'glass', 'hair', 'leather', 'metal', 'mirror',
    'other', 'painted', 'paper', 'plastic', 'polishedstone', 'skin', 'sky', 'stone', 'tile', 'wallpaper',
    'water', 'wood',
)  # fmt: skip


def check_layout(root: Path) -> dict[str, int]:
    """Check a MINC-2500 root; return the number of entries of each split list."""
    root = Path(root)
    images = require_dir(root / 'images', 'images/<class>/ with the 23 MINC class folders')
    missing = [c for c in MINC_CLASSES if not (images / c).is_dir()]
    if missing:
        raise FileNotFoundError(f'{images}: class folders {missing} are missing; expected all of {list(MINC_CLASSES)}')
    lists = sorted((root / 'labels').glob('*.txt')) if (root / 'labels').is_dir() else []
    if not lists:
        raise FileNotFoundError(
            f'{root / "labels"}: no split lists; expected labels/{{train,validate,test}}{{1..5}}.txt'
        )
    counts = {}
    for path in lists:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        for line_no, rel in enumerate(lines, 1):
            parts = Path(rel).parts
            if len(parts) != 3 or parts[0] != 'images' or parts[1] not in MINC_CLASSES:
                raise ValueError(f'{path}:{line_no}: {rel!r} is not images/<class>/<file> with a MINC class')
            if not (root / rel).is_file():
                raise FileNotFoundError(f'{root / rel} not found; it is listed in {path}:{line_no}')
        counts[path.stem] = len(lines)
    return counts


def convert(
    src: Path, out: Path, sha1: str | None = None, skip_sha1: bool = False, overwrite: bool = False
) -> dict[str, int]:
    """Verify and extract the archive ``src`` into ``out``, then check it; return the split sizes."""
    src = require_file(src, f'the MINC-2500 archive {ARCHIVE}')
    verify_sha1(src, sha1, KNOWN_SHA1, skip=skip_sha1)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        extract_archive(src, tmp, strip_prefix=TOP_FOLDER)
        counts = check_layout(tmp)
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', type=Path, help=f'{ARCHIVE}, or an extracted minc-2500 folder with --check-only')
    add_out_arg(parser, 'data/minc-2500')
    add_sha1_args(parser)
    parser.add_argument('--check-only', action='store_true', help='src is an extracted folder: only check it')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.check_only:
        counts = check_layout(args.src)
        where = args.src
    else:
        counts = convert(args.src, args.out, sha1=args.sha1, skip_sha1=args.skip_sha1, overwrite=args.overwrite)
        where = args.out
    print(f'{where}: ' + ', '.join(f'{name} ({n})' for name, n in counts.items()))


if __name__ == '__main__':
    main()
