"""Segment images with a trained checkpoint: label PNGs and overlays, one line per image.

Usage::

    python tools/infer.py IMAGE [IMAGE ...] CONFIG CHECKPOINT --out-dir DIR
        [--device cpu|cuda:0] [--opacity 0.5] [--batch-size 1] [--cfg-options k=v ...]

An IMAGE may be a folder: the images directly inside it are taken in sorted order. For each
image ``<stem>.<ext>`` it writes into ``--out-dir``:

* ``<stem>_pred.png``: the label map as an indexed PNG (pixel value = class id, coloured
  with the dataset palette; ``np.array(PIL.Image.open(...))`` reads the ids back);
* ``<stem>_overlay.png``: the prediction drawn over the image with class names.

and prints ``<image>: <H>x<W>, classes: name (share%), ...``. The last two positionals are
CONFIG and CHECKPOINT; put ``--cfg-options`` after them (it takes every following word).
The checkpoint is loaded weights-only (see :mod:`segtools.utils.checkpoint`).
"""

import argparse
import os.path as osp
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import DictAction

from segtools.apis import inference_model, init_model, save_prediction_png, show_result
from segtools.structures import SegDataSample
from segtools.utils.checkpoint import CorruptCheckpointError, UnsafeCheckpointError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment images with a trained checkpoint',
        usage='%(prog)s IMAGE [IMAGE ...] CONFIG CHECKPOINT --out-dir DIR [options]',
    )
    parser.add_argument(
        'paths', nargs='+', metavar='IMAGE... CONFIG CHECKPOINT', help='images or folders, then config and checkpoint'
    )
    parser.add_argument('--out-dir', required=True, help='folder for <stem>_pred.png and <stem>_overlay.png')
    parser.add_argument('--device', default=None, help='torch device (default: cuda:0 when available, else cpu)')
    parser.add_argument('--opacity', type=float, default=0.5, help='weight of the class colours in the overlays')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of the config, key=value pairs'
    )
    args = parser.parse_args(argv)
    if len(args.paths) < 3:
        parser.error(f'expected IMAGE... CONFIG CHECKPOINT, got {len(args.paths)} positional argument(s): {args.paths}')
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    args.images, args.config, args.checkpoint = args.paths[:-2], args.paths[-2], args.paths[-1]
    return args


def collect_images(paths: Sequence[str]) -> list[Path]:
    """Files as given, folders expanded to the images directly inside them (sorted).

    Raises:
        FileNotFoundError: A path does not exist, or a folder holds no image.
        ValueError: Two images would write the same output names (same stem).
    """
    images: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise FileNotFoundError(f'folder {path} holds no image ({", ".join(IMAGE_EXTENSIONS)})')
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f'image {path} does not exist')
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            raise ValueError(f'images {stems[image.stem]} and {image} would both write {image.stem}_pred.png')
        stems[image.stem] = image
    return images


def summarize(image: Path, result: SegDataSample, classes: Sequence[str]) -> str:
    """``<image>: HxW, classes: name (share%), ...`` with classes by decreasing share."""
    pred = result.pred_sem_seg.data.reshape(-1).cpu()
    counts = torch.bincount(pred, minlength=len(classes))
    order = sorted(np.flatnonzero(counts.numpy()), key=lambda i: -int(counts[i]))
    present = ', '.join(f'{classes[i]} ({100 * float(counts[i]) / pred.numel():.1f}%)' for i in order)
    height, width = result.pred_sem_seg.shape
    return f'{image}: {height}x{width}, classes: {present}'


def main(argv: Sequence[str] | None = None) -> list[SegDataSample]:
    args = parse_args(argv)
    try:
        images = collect_images(args.images)
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
        if not osp.isfile(args.config):
            raise FileNotFoundError(f'config {args.config} does not exist')
        model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for start in range(0, len(images), args.batch_size):
            chunk = images[start : start + args.batch_size]
            for image, result in zip(chunk, inference_model(model, chunk, args.batch_size), strict=True):
                save_prediction_png(model, result, out_dir / f'{image.stem}_pred.png')
                show_result(
                    model,
                    image,
                    result,
                    opacity=args.opacity,
                    title=image.name,
                    out_file=out_dir / f'{image.stem}_overlay.png',
                )
                print(summarize(image, result, model.dataset_meta['classes']), flush=True)
                results.append(result)
    except (FileNotFoundError, ValueError, UnsafeCheckpointError, CorruptCheckpointError) as error:
        raise SystemExit(f'infer.py: error: {type(error).__name__}: {error}') from error
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
