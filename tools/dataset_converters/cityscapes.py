"""Derive Cityscapes ``*_gtFine_labelTrainIds.png`` masks (19 classes) from the official labelIds.

Input: the Cityscapes root after unzipping ``gtFine_trainvaltest.zip`` and
``leftImg8bit_trainvaltest.zip``::

    ROOT/leftImg8bit/{train,val,test}/<city>/<name>_leftImg8bit.png
    ROOT/gtFine/{train,val,test}/<city>/<name>_gtFine_labelIds.png   (ids 0..33)

Output, written beside the labelIds (each file atomically)::

    ROOT/gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png   (0..18, 255 = ignore)
    OUT/{train,val,test}.txt   lines ``<city>/<name>`` (relative to leftImg8bit/<split>, no suffix)

The id -> trainId table is the official one of cityscapesScripts' ``labels.py``:
the 19 evaluated classes get 0..18, every other id (unlabeled, ego vehicle, ...,
parking, rail track, guard rail, bridge, tunnel, polegroup, caravan, trailer,
license plate) becomes 255.

Example::

    python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from _common import add_nproc_arg, apply_lut, read_mask, require_dir, run_tasks, write_lines_atomic, write_png_atomic

LABEL_SUFFIX = '_gtFine_labelIds.png'
TRAIN_ID_SUFFIX = '_gtFine_labelTrainIds.png'
IMG_SUFFIX = '_leftImg8bit.png'
SPLITS = ('train', 'val', 'test')
# labelId -> trainId of the 19 evaluated classes (cityscapesScripts labels.py); all other ids -> 255.
ID_TO_TRAIN_ID = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}


def train_id_lut() -> np.ndarray:
    """(256,) uint8 table labelId -> trainId (255 for ids that are not evaluated)."""
    lut = np.full(256, 255, dtype=np.uint8)
    for label_id, train_id in ID_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    return lut


def _valid_ids() -> np.ndarray:
    # Official labelIds are 0..33; 255 may appear for the license plate (id -1) in some exports.
    valid = np.zeros(256, dtype=bool)
    valid[:34] = True
    valid[255] = True
    return valid


def convert_one(label_path: str, lut: np.ndarray, valid: np.ndarray) -> None:
    """Write the trainIds mask of one ``*_gtFine_labelIds.png``."""
    path = Path(label_path)
    mask = apply_lut(read_mask(path), lut, path, valid)
    write_png_atomic(path.with_name(path.name[: -len(LABEL_SUFFIX)] + TRAIN_ID_SUFFIX), mask)


def convert(root: Path, out: Path | None = None, nproc: int = 1) -> dict[str, int]:
    """Write trainIds masks under ``root/gtFine`` and split lists into ``out`` (default ``root``).

    Returns:
        Number of converted masks per split.
    """
    root = Path(root)
    gt_dir = require_dir(root / 'gtFine', f'the Cityscapes gtFine folder (gtFine/<split>/<city>/*{LABEL_SUFFIX})')
    img_dir = require_dir(
        root / 'leftImg8bit', f'the Cityscapes image folder (leftImg8bit/<split>/<city>/*{IMG_SUFFIX})'
    )
    labels = sorted(gt_dir.glob(f'*/*/*{LABEL_SUFFIX}'))
    if not labels:
        raise FileNotFoundError(
            f'{gt_dir}: no <split>/<city>/*{LABEL_SUFFIX} files; unzip gtFine_trainvaltest.zip here'
        )
    counts: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for path in labels:
        split, city = path.parent.parent.name, path.parent.name
        stem = path.name[: -len(LABEL_SUFFIX)]
        image = img_dir / split / city / f'{stem}{IMG_SUFFIX}'
        if not image.is_file():
            raise FileNotFoundError(f'{image} not found; expected the image of {path}')
        names.setdefault(split, []).append(f'{city}/{stem}')
        counts[split] = counts.get(split, 0) + 1
    run_tasks(partial(convert_one, lut=train_id_lut(), valid=_valid_ids()), [str(p) for p in labels], nproc)
    out = Path(out) if out is not None else root
    for split in SPLITS:
        if split in names:
            write_lines_atomic(out / f'{split}.txt', names[split])
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='Cityscapes root holding gtFine/ and leftImg8bit/')
    parser.add_argument('--out', type=Path, default=None, help='folder for the split lists (default: root)')
    add_nproc_arg(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = convert(args.root, args.out, nproc=args.nproc)
    print(f'wrote trainIds masks under {args.root / "gtFine"}: ' + ', '.join(f'{n} {s}' for s, n in counts.items()))


if __name__ == '__main__':
    main()
