"""Rasterise COCO 2017 instances of the 20 Pascal VOC categories into 21-class PNG masks (COCO-21).

This is PyTorch-Encoding's ``coco`` segmentation set, used to pre-train VOC models.

Input (the COCO root)::

    ROOT/{train2017,val2017}/<id>.jpg
    ROOT/annotations/instances_{train2017,val2017}.json

Output (``--out`` defaults to ROOT; masks atomically written)::

    OUT/annotations21/<split>/<file stem>.png   (0 = background, 1..20 = VOC ids)
    OUT/annotations21/<split>.txt               the kept images, one stem per line

Use the list as ``ann_file='annotations21/train2017.txt'`` of ``COCO21Dataset``: the
image folder also holds the images that were dropped.

Rules (as PyTorch-Encoding): instance polygons (``cv2.fillPoly``) and RLE (decoded
here, compressed or not) are drawn in annotation order and a pixel keeps the FIRST
category written to it; categories without a VOC counterpart are skipped; an image
is kept only if more than ``--min-pixels`` (1000) pixels are labelled. VOC id of each
COCO category: airplane 1, bicycle 2, bird 3, boat 4, bottle 5, bus 6, car 7, cat 8,
chair 9, cow 10, dining table 11, dog 12, horse 13, motorcycle 14, person 15,
potted plant 16, sheep 17, couch 18, train 19, tv 20.

Example::

    python tools/dataset_converters/coco21.py data/coco --nproc 8
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from _common import add_nproc_arg, require_file, run_tasks, segmentation_to_mask, write_lines_atomic, write_png_atomic

SPLITS = ('train2017', 'val2017')
# COCO category id of each VOC class, index = VOC id (0 = background).
VOC_TO_COCO = (0, 5, 2, 16, 9, 44, 6, 3, 17, 62, 21, 67, 18, 19, 4, 1, 64, 20, 63, 7, 72)
COCO_TO_VOC = {coco: voc for voc, coco in enumerate(VOC_TO_COCO) if voc > 0}


def load_instances(path: Path) -> tuple[list[dict], dict[int, list[dict]]]:
    """Read an instances json; return its images and the annotations of each image id, in file order."""
    path = require_file(path, 'a COCO instances json (annotations_trainval2017.zip)')
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from err
    for key in ('images', 'annotations'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'{path}: missing list "{key}"; expected a COCO instances json')
    anns: dict[int, list[dict]] = {}
    for ann in data['annotations']:
        anns.setdefault(ann['image_id'], []).append(ann)
    return data['images'], anns


def rasterise(image: dict, anns: Sequence[dict], source: str) -> np.ndarray:
    """(H, W) uint8 21-class mask of one image; the first instance written to a pixel wins."""
    height, width = int(image['height']), int(image['width'])
    mask = np.zeros((height, width), dtype=np.uint8)
    for ann in anns:
        voc_id = COCO_TO_VOC.get(ann.get('category_id'))
        if voc_id is None:
            continue
        where = f'{source}: annotation {ann.get("id")} of image {image["id"]}'
        instance = segmentation_to_mask(ann['segmentation'], height, width, where)
        mask[(mask == 0) & (instance > 0)] = voc_id
    return mask


def convert_one(task: tuple[dict, list[dict]], img_dir: str, out_dir: str, source: str, min_pixels: int) -> str | None:
    """Write one image's mask if it has more than ``min_pixels`` labelled pixels; return its stem or None."""
    image, anns = task
    mask = rasterise(image, anns, source)
    if int((mask > 0).sum()) <= min_pixels:
        return None
    stem = Path(image['file_name']).stem
    if not (Path(img_dir) / image['file_name']).is_file():
        raise FileNotFoundError(
            f'{Path(img_dir) / image["file_name"]} not found; expected the image listed in {source}'
        )
    write_png_atomic(Path(out_dir) / f'{stem}.png', mask)
    return stem


def convert(root: Path, out: Path | None = None, nproc: int = 1, min_pixels: int = 1000, splits=SPLITS):
    """Convert each split that has an instances json; return ``{split: (kept, total)}``."""
    root = Path(root)
    out = Path(out) if out is not None else root
    result = {}
    for split in splits:
        json_path = root / 'annotations' / f'instances_{split}.json'
        if not json_path.is_file():
            continue
        images, anns = load_instances(json_path)
        out_dir = out / 'annotations21' / split
        tasks = [(img, anns.get(img['id'], [])) for img in images]
        fn = partial(
            convert_one, img_dir=str(root / split), out_dir=str(out_dir), source=str(json_path), min_pixels=min_pixels
        )
        kept = sorted(s for s in run_tasks(fn, tasks, nproc) if s is not None)
        write_lines_atomic(out / 'annotations21' / f'{split}.txt', kept)
        result[split] = (len(kept), len(images))
    if not result:
        raise FileNotFoundError(
            f'{root / "annotations"}: no instances_{{train2017,val2017}}.json; '
            f'unzip annotations_trainval2017.zip in {root}'
        )
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='COCO root with train2017/, val2017/ and annotations/')
    parser.add_argument('--out', type=Path, default=None, help='where annotations21/ goes (default: root)')
    parser.add_argument('--min-pixels', type=int, default=1000, help='keep images with more labelled pixels than this')
    add_nproc_arg(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result = convert(args.root, args.out, nproc=args.nproc, min_pixels=args.min_pixels)
    print('kept ' + ', '.join(f'{k} of {n} {s} images' for s, (k, n) in result.items()))


if __name__ == '__main__':
    main()
