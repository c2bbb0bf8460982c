"""Compact COCO-Stuff 164k stuffthingmaps (182 sparse ids) into ``*_labelTrainIds.png`` (171 classes).

Input: the data root after unzipping ``train2017.zip``/``val2017.zip`` into ``images/``
and ``stuffthingmaps_trainval2017.zip`` into ``annotations/`` (or pass the maps zip
with ``--maps-zip`` and it is extracted there, refusing unsafe members)::

    ROOT/images/{train2017,val2017}/<id>.jpg
    ROOT/annotations/{train2017,val2017}/<id>.png   (0..181 = COCO id - 1, 255 = unlabelled)

Output, beside the maps (each file atomically)::

    ROOT/annotations/<split>/<id>_labelTrainIds.png   (0..170, 255 = unlabelled)
    ROOT/{train2017,val2017}.txt                       image ids, one per line

Mapping: COCO's 91 thing ids include 11 that have no annotations (street sign, hat,
shoe, eye glasses, plate, mirror, window, desk, door, blender, hair brush: COCO ids
12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91, i.e. map values 11, 25, 28, 29, 44, 65,
67, 68, 70, 82, 90). Removing them and numbering the remaining 80 things and 91 stuff
classes in order gives 0..170; 255 stays 255. A map value among the unused ids or
above 181 is an error naming the file.

Example::

    python tools/dataset_converters/coco_stuff164k.py data/coco_stuff164k --nproc 8
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from _common import (
    add_nproc_arg,
    add_sha1_args,
    apply_lut,
    extract_archive,
    read_mask,
    require_dir,
    run_tasks,
    verify_sha1,
    write_lines_atomic,
    write_png_atomic,
)

SPLITS = ('train2017', 'val2017')
OUT_SUFFIX = '_labelTrainIds.png'
NUM_RAW_IDS = 182
UNUSED_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)  # 0-based map values of the unannotated thing ids


def train_id_lut() -> tuple[np.ndarray, np.ndarray]:
    """(256,) uint8 table map value -> 0..170 (255 elsewhere) and the (256,) bool table of allowed values."""
    used = [i for i in range(NUM_RAW_IDS) if i not in UNUSED_IDS]
    lut = np.full(256, 255, dtype=np.uint8)
    lut[used] = np.arange(len(used), dtype=np.uint8)
    valid = np.zeros(256, dtype=bool)
    valid[used] = True
    valid[255] = True
    return lut, valid


def convert_one(path: str, lut: np.ndarray, valid: np.ndarray) -> None:
    """Write the ``_labelTrainIds.png`` of one stuffthingmap."""
    src = Path(path)
    write_png_atomic(src.with_name(src.stem + OUT_SUFFIX), apply_lut(read_mask(src), lut, src, valid))


def convert(
    root: Path, nproc: int = 1, maps_zip: Path | None = None, sha1: str | None = None, skip_sha1: bool = False
) -> dict[str, int]:
    """Convert every map under ``root/annotations/<split>``; return the count per split."""
    root = Path(root)
    if maps_zip is not None:
        verify_sha1(maps_zip, sha1, skip=skip_sha1)
        # The zip holds train2017/*.png and val2017/*.png at its top level.
        extract_archive(maps_zip, root / 'annotations', select=lambda name: name.endswith('.png'))
    ann_root = require_dir(root / 'annotations', 'annotations/{train2017,val2017}/<id>.png from stuffthingmaps')
    counts, tasks = {}, []
    for split in SPLITS:
        split_dir = ann_root / split
        if not split_dir.is_dir():
            continue
        maps = sorted(p for p in split_dir.glob('*.png') if not p.name.endswith(OUT_SUFFIX))
        for p in maps:
            image = root / 'images' / split / f'{p.stem}.jpg'
            if not image.is_file():
                raise FileNotFoundError(
                    f'{image} not found; expected the image of {p} (unzip {split}.zip into images/)'
                )
        tasks += [str(p) for p in maps]
        counts[split] = len(maps)
        write_lines_atomic(root / f'{split}.txt', [p.stem for p in maps])
    if not tasks:
        raise FileNotFoundError(
            f'{ann_root}: no {{train2017,val2017}}/<id>.png maps; unzip stuffthingmaps_trainval2017.zip there'
        )
    lut, valid = train_id_lut()
    run_tasks(partial(convert_one, lut=lut, valid=valid), tasks, nproc)
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='COCO-Stuff 164k root with images/ and annotations/')
    parser.add_argument('--maps-zip', type=Path, default=None, help='stuffthingmaps_trainval2017.zip to extract first')
    add_nproc_arg(parser)
    add_sha1_args(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = convert(args.root, args.nproc, args.maps_zip, args.sha1, args.skip_sha1)
    print(
        f'wrote {OUT_SUFFIX} maps under {args.root / "annotations"}: '
        + ', '.join(f'{n} {s}' for s, n in counts.items())
    )


if __name__ == '__main__':
    main()
