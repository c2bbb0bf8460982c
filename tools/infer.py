"""Segment images with a trained checkpoint: label PNGs and overlays, one line per image.

Usage::

    python tools/infer.py IMAGE [IMAGE ...] CONFIG CHECKPOINT --out-dir DIR
        [--device cpu|cuda:0] [--opacity 0.5] [--batch-size 1] [--cfg-options k=v ...]

An IMAGE may be a folder: the images directly inside it are taken in sorted order. For each
image ``<stem>.<ext>`` it writes into ``--out-dir``:

* ``<stem>_pred.png``: the label map as an indexed PNG (pixel value = class id, coloured
  with the dataset palette; ``np.array(PIL.Image.open(...))`` reads the ids back);
* ``<stem>_overlay.png``: the prediction drawn over the image with class names.

and prints ``<image>: <H>x<W>, classes: name (share%), ...``. For a classification config
(``ImageClassifier``) it prints ``<image>: name (probability%), ...`` with the ``--topk`` most
likely classes and writes them all to ``<out-dir>/predictions.json``. The last two positionals are
CONFIG and CHECKPOINT; put ``--cfg-options`` after them (it takes every following word).
The checkpoint is loaded weights-only (see :mod:`segtools.weights.loading`).

CHECKPOINT may also be a ``.onnx`` file from ``tools/deployment/pytorch2onnx.py``: onnxruntime
(CPU; ``pip install -r requirements/deploy.txt``) then runs the network instead of PyTorch,
while CONFIG still gives the test pipeline, the preprocessing and, unless the file stores
them, the class names and palette; the outputs are the same files and lines. The exported
network is whole-image inference, whatever the config's ``test_cfg`` says.

An input that cannot be used (a missing path, a folder without images, a file that cannot
be decoded) does not stop the others: each is reported on stderr, one line
``infer.py: error: ...`` naming it, every readable image is still segmented and written, and
the tool exits with status 2 at the end. Errors that concern the whole run (config,
checkpoint, two images with the same stem) stop it at once, also with status 2.

16-bit images (MRI, remote-sensing tiles) are scaled to 0..255 by their real range: set
``bit_depth`` or ``value_range`` on ``LoadImageFromFile`` in the config's test pipeline (e.g.
``--cfg-options +test_pipeline.0.bit_depth=12``); without them the smallest standard depth
holding the data is assumed, with a warning (see ``segtools.datasets.transforms.intensity``).
"""

import argparse
import json
import os.path as osp
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

from segtools.apis import inference_model, init_model, save_prediction_png, show_result, top_classes
from segtools.apis.inference import ImageReadError
from segtools.apis.onnx_model import init_onnx_model
from segtools.errors import CheckpointNotFoundError, ConfigError
from segtools.structures import SegDataSample
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.fileio import atomic_open

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
# Errors of one input image: reported, and the other images are still segmented.
INPUT_ERRORS = (ImageReadError, FileNotFoundError)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment images with a trained checkpoint',
        usage='%(prog)s IMAGE [IMAGE ...] CONFIG CHECKPOINT --out-dir DIR [options]',
    )
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='IMAGE... CONFIG CHECKPOINT',
        help='images or folders, then config and checkpoint (or a .onnx model exported by pytorch2onnx.py)',
    )
    parser.add_argument('--out-dir', required=True, help='folder for <stem>_pred.png and <stem>_overlay.png')
    parser.add_argument('--device', default=None, help='torch device (default: cuda:0 when available, else cpu)')
    parser.add_argument('--opacity', type=float, default=0.5, help='weight of the class colours in the overlays')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--topk', type=int, default=5, help='classes listed per image (classification configs)')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if len(args.paths) < 3:
        parser.error(f'expected IMAGE... CONFIG CHECKPOINT, got {len(args.paths)} positional argument(s): {args.paths}')
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.topk < 1:
        parser.error(f'--topk must be >= 1, got {args.topk}')
    args.images, args.config, args.checkpoint = args.paths[:-2], args.paths[-2], args.paths[-1]
    return args


def collect_images(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files as given, folders expanded to the images directly inside them (sorted).

    Returns:
        The images, and one message per path that gives none (missing, or a folder without images).

    Raises:
        segtools.errors.ConfigError: Two images would write the same output names (same stem).
    """
    images: list[Path] = []
    failures: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                failures.append(f'folder {path} holds no image ({", ".join(IMAGE_EXTENSIONS)})')
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            failures.append(f'image {path} does not exist')
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            raise ConfigError(f'images {stems[image.stem]} and {image} would both write {image.stem}_pred.png')
        stems[image.stem] = image
    return images, failures


def predict(
    model: torch.nn.Module, images: Sequence[Path], batch_size: int
) -> Iterator[tuple[Path, SegDataSample | Exception]]:
    """Each image with its prediction, or with the error that made it unusable, in order.

    Images go through :func:`inference_model` ``batch_size`` at a time; when a chunk holds an
    image that cannot be read, its images are run one by one so that only that one fails
    (predictions do not depend on the batch, see :func:`inference_model`).
    """
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        try:
            outcomes = list(zip(chunk, inference_model(model, chunk, batch_size), strict=True))
        except INPUT_ERRORS as error:
            if len(chunk) == 1:
                outcomes = [(chunk[0], error)]
            else:  # find the unreadable ones: run the chunk's images alone
                outcomes = [(image, predict_one(model, image)) for image in chunk]
        yield from outcomes


def predict_one(model: torch.nn.Module, image: Path) -> SegDataSample | Exception:
    """The prediction of one image, or the input error that prevented it."""
    try:
        return inference_model(model, image)
    except INPUT_ERRORS as error:
        return error


def load_model(cfg: Config, args: argparse.Namespace) -> torch.nn.Module:
    """The PyTorch model of CONFIG and CHECKPOINT, or the onnxruntime model of a ``.onnx`` CHECKPOINT."""
    if Path(args.checkpoint).suffix.lower() != '.onnx':
        return init_model(cfg, args.checkpoint, device=args.device)
    if args.device not in (None, 'cpu'):
        raise ConfigError(f'--device {args.device}: a .onnx model runs on the CPU (onnxruntime); drop --device')
    return init_onnx_model(cfg, args.checkpoint)


def report(message: str) -> None:
    """One line ``infer.py: error: <message>`` on stderr."""
    print(f'infer.py: error: {" ".join(str(message).split())}', file=sys.stderr, flush=True)


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
    images, failures = collect_images(args.images)
    if not osp.isfile(args.checkpoint):
        raise CheckpointNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    if not osp.isfile(args.config):
        raise ConfigError(f'config {args.config} does not exist')
    for message in failures:
        report(message)
    failed = len(failures)
    results, classified = [], {}
    if images:
        cfg = load_config(args.config)
        apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
        model = load_model(cfg, args)
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for image, result in predict(model, images, args.batch_size):
            if isinstance(result, Exception):
                report(str(result))
                failed += 1
                continue
            results.append(result)
            if 'pred_score' in result:  # a classifier: the most likely classes
                ranked = top_classes(model, result, args.topk)
                classified[str(image)] = [dict(cls=name, score=round(score, 6)) for name, score in ranked]
                print(f'{image}: ' + ', '.join(f'{name} ({100 * score:.1f}%)' for name, score in ranked), flush=True)
                continue
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
        if classified:
            with atomic_open(out_dir / 'predictions.json', 'w') as file:
                json.dump(classified, file, indent=1)
    if failed:
        report(
            f'{failed} input(s) failed (listed above); {len(results)} image(s) segmented and written to {args.out_dir}'
        )
        raise SystemExit(2)
    return results


if __name__ == '__main__':
    run_tool(main)
