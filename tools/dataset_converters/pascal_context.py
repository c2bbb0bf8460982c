"""Rasterise Pascal Context (``trainval_merged.json``) into 60-class index PNGs for ``PascalContextDataset``.

Inputs: the extracted VOC2010 folder (``VOCdevkit/VOC2010`` with ``JPEGImages/``) and
the Detail-API annotation file ``trainval_merged.json`` (default: inside that folder).
The json is read with the standard library; the ``detail`` package is not needed.

Json structure used (the Detail API's, as far as this converter relies on it)::

    images:              [{image_id, file_name, height, width, phase?}, ...]   phase: 'train' | 'val'
    annos_segmentation:  [{image_id, category_id, segmentation}, ...]
                         segmentation: RLE {counts: str | [int], size: [h, w]} or polygons [[x, y, ...]]

``category_id`` is one of the 459 full Pascal Context classes (1..459, alphabetical).
Each image's mask is drawn in annotation order, later annotations over earlier ones
(as the Detail API's ``getMask``). The 59 benchmark classes keep their alphabetical
order and become 1..59; every other category and unannotated pixels become 0
(background). Without a ``phase`` on every image, the split comes from VOC2010's
``ImageSets/Main/{train,val}.txt`` (Pascal Context's 4998/5105 split).

Output (``--out`` defaults to the VOC2010 folder, which must then hold the images)::

    OUT/SegmentationClassContext/<file stem>.png        0 = background, 1..59 = classes
    OUT/ImageSets/SegmentationContext/{train,val}.txt

Example::

    python tools/dataset_converters/pascal_context.py data/VOCdevkit/VOC2010 --nproc 8
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from _common import (
    add_nproc_arg,
    require_dir,
    require_file,
    run_tasks,
    segmentation_to_mask,
    write_lines_atomic,
    write_png_atomic,
)

# Category ids (in the 459-class list) of the 59 benchmark classes, sorted = alphabetical:
# aeroplane 2, bag 9, bed 18, ..., window 454, wood 458.
CONTEXT59_IDS = (
    2, 9, 18, 19, 22, 23, 25, 31, 33, 34, 44, 45, 46, 59, 65, 68, 72, 80, 85, 98, 104, 105, 113, 115, 144, 158,
    159, 162, 187, 189, 207, 220, 232, 258, 259, 260, 284, 295, 296, 308, 324, 326, 347, 349, 354, 355, 360, 366,
    368, 397, 415, 416, 420, 424, 427, 440, 445, 454, 458,
)  # fmt: skip
NUM_FULL_CLASSES = 459
SPLITS = ('train', 'val')


def context60_lut() -> np.ndarray:
    """(NUM_FULL_CLASSES + 1,) uint8 table: full category id -> 0..59 (0 for the unlisted classes)."""
    lut = np.zeros(NUM_FULL_CLASSES + 1, dtype=np.uint8)
    lut[list(CONTEXT59_IDS)] = np.arange(1, len(CONTEXT59_IDS) + 1, dtype=np.uint8)
    return lut


def rasterise(image: dict, anns: Sequence[dict], source: str) -> np.ndarray:
    """(H, W) uint8 60-class mask of one image."""
    height, width = int(image['height']), int(image['width'])
    full = np.zeros((height, width), dtype=np.int32)
    for ann in anns:
        cat = ann.get('category_id')
        where = f'{source}: segmentation annotation of image {image["image_id"]} (category {cat})'
        if not isinstance(cat, int) or not 1 <= cat <= NUM_FULL_CLASSES:
            raise ValueError(f'{where}: category_id {cat!r}; expected 1..{NUM_FULL_CLASSES}')
        full[segmentation_to_mask(ann['segmentation'], height, width, where) > 0] = cat
    return context60_lut()[full]


def convert_one(task: tuple[dict, list[dict]], out_dir: str, source: str) -> None:
    image, anns = task
    write_png_atomic(Path(out_dir) / f'{Path(image["file_name"]).stem}.png', rasterise(image, anns, source))


def load_json(path: Path) -> tuple[list[dict], dict[int, list[dict]]]:
    """Images and per-image segmentation annotations (file order) of a Detail json."""
    require_file(path, 'the Pascal Context annotations trainval_merged.json (Detail API format)')
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from err
    for key in ('images', 'annos_segmentation'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'{path}: missing list "{key}"; expected the Detail-API trainval_merged.json')
    anns: dict[int, list[dict]] = {}
    for ann in data['annos_segmentation']:
        anns.setdefault(ann['image_id'], []).append(ann)
    return data['images'], anns


def split_of_images(images: list[dict], voc_root: Path) -> dict[str, list[dict]]:
    """Group images by their ``phase``, or by VOC2010 ``ImageSets/Main/{train,val}.txt`` without one."""
    if all('phase' in img for img in images):
        return {s: [img for img in images if img['phase'] == s] for s in SPLITS}
    splits = {}
    for split in SPLITS:
        path = require_file(
            voc_root / 'ImageSets' / 'Main' / f'{split}.txt', 'the VOC2010 split list (the json has no "phase")'
        )
        names = {line.split()[0] for line in path.read_text().splitlines() if line.strip()}
        splits[split] = [img for img in images if Path(img['file_name']).stem in names]
    return splits


def convert(voc_root: Path, json_path: Path | None = None, out: Path | None = None, nproc: int = 1) -> dict[str, int]:
    """Write masks and split lists; return the number of images per split."""
    voc_root = require_dir(voc_root, 'the extracted VOCdevkit/VOC2010 folder')
    json_path = Path(json_path) if json_path is not None else voc_root / 'trainval_merged.json'
    out = Path(out) if out is not None else voc_root
    images, anns = load_json(json_path)
    splits = split_of_images(images, voc_root)
    counts = {}
    for split, split_images in splits.items():
        for img in split_images:
            if not (voc_root / 'JPEGImages' / img['file_name']).is_file():
                raise FileNotFoundError(
                    f'{voc_root / "JPEGImages" / img["file_name"]} not found; listed in {json_path}'
                )
        tasks = [(img, anns.get(img['image_id'], [])) for img in split_images]
        run_tasks(
            partial(convert_one, out_dir=str(out / 'SegmentationClassContext'), source=str(json_path)), tasks, nproc
        )
        stems = sorted(Path(img['file_name']).stem for img in split_images)
        write_lines_atomic(out / 'ImageSets' / 'SegmentationContext' / f'{split}.txt', stems)
        counts[split] = len(stems)
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('voc_root', type=Path, help='the VOCdevkit/VOC2010 folder')
    parser.add_argument('--json', type=Path, default=None, help='trainval_merged.json (default: inside voc_root)')
    parser.add_argument('--out', type=Path, default=None, help='output root (default: voc_root)')
    add_nproc_arg(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = convert(args.voc_root, args.json, args.out, args.nproc)
    print('wrote Pascal Context masks: ' + ', '.join(f'{n} {s}' for s, n in counts.items()))


if __name__ == '__main__':
    main()
