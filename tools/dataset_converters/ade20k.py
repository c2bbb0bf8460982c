"""Extract the official ADE20K scene-parsing archive into the layout of ``ADE20KDataset``.

Input: ``ADEChallengeData2016.zip`` (MIT Scene Parsing benchmark; 20210 training and
2000 validation images). Its sha1 is checked against the published one
(``219e1696...``) when the file has its official name, or against ``--sha1``.

Output (``--out`` is the dataset's ``data_root``)::

    OUT/images/{training,validation}/ADE_*.jpg
    OUT/annotations/{training,validation}/ADE_*.png   (0 = other, 1..150 = classes)
    OUT/objectInfo150.txt, sceneCategories.txt         (when the archive has them)

The archive's top folder ``ADEChallengeData2016/`` is stripped. Members with absolute
paths, ``..`` or links are refused. The output is built in a temporary folder beside
``--out`` and renamed into place; every image must have its mask.

Example::

    python tools/dataset_converters/ade20k.py ADEChallengeData2016.zip --out data/ade/ADEChallengeData2016
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from _common import add_out_arg, add_sha1_args, atomic_dir, extract_archive, require_file, verify_sha1

ARCHIVE = 'ADEChallengeData2016.zip'
KNOWN_SHA1 = {ARCHIVE: '219e1696abb36c8ba3a3afe7fb2f4b4606a897c7'}  # published by MIT (gluon-cv, PyTorch-Encoding)
TOP_FOLDER = 'ADEChallengeData2016'
SPLITS = ('training', 'validation')
OFFICIAL_COUNTS = {'training': 20210, 'validation': 2000}


def check_layout(root: Path, archive: Path) -> dict[str, int]:
    """Require ``images/<split>/*.jpg`` with a ``annotations/<split>/*.png`` for each; return counts."""
    counts = {}
    for split in SPLITS:
        img_dir, ann_dir = root / 'images' / split, root / 'annotations' / split
        images = sorted(p.stem for p in img_dir.glob('*.jpg')) if img_dir.is_dir() else []
        if not images:
            raise FileNotFoundError(
                f'{archive}: no {TOP_FOLDER}/images/{split}/*.jpg in the archive; expected the official {ARCHIVE}'
            )
        masks = {p.stem for p in ann_dir.glob('*.png')} if ann_dir.is_dir() else set()
        missing = [name for name in images if name not in masks]
        if missing:
            raise FileNotFoundError(
                f'{archive}: {len(missing)} {split} images have no {TOP_FOLDER}/annotations/{split}/<name>.png, '
                f'e.g. {missing[:3]}'
            )
        counts[split] = len(images)
    return counts


def convert(archive: Path, out: Path, sha1: str | None = None, skip_sha1: bool = False, overwrite: bool = False):
    """Verify and extract ``archive`` into ``out``; return the image count per split."""
    archive = require_file(archive, f'the official {ARCHIVE} (http://sceneparsing.csail.mit.edu)')
    verify_sha1(archive, sha1, KNOWN_SHA1, skip=skip_sha1)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        extract_archive(archive, tmp, strip_prefix=TOP_FOLDER)
        counts = check_layout(tmp, archive)
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('archive', type=Path, help=f'path to {ARCHIVE}')
    add_out_arg(parser, 'data/ade/ADEChallengeData2016')
    add_sha1_args(parser)
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = convert(args.archive, args.out, sha1=args.sha1, skip_sha1=args.skip_sha1, overwrite=args.overwrite)
    print(f'wrote {args.out}: ' + ', '.join(f'{n} {s} images' for s, n in counts.items()))
    if counts != OFFICIAL_COUNTS:
        print(f'note: the official release has {OFFICIAL_COUNTS}; this archive differs')


if __name__ == '__main__':
    main()
