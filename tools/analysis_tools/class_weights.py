"""Class-balancing loss weights from the label maps of a config's training set.

Usage::

    python tools/analysis_tools/class_weights.py CONFIG [--power 0.5] [--cfg-options k=v ...]

Counts the pixels of every class over ``train_dataloader.dataset`` (label maps read with the
config's own ``LoadAnnotations``, so ``reduce_zero_label`` and a class subset's ``label_map``
apply; ``ignore_index`` pixels are left out; no image is decoded) and prints median-frequency
weights (Eigen & Fergus, ICCV 2015) softened by ``--power``::

    w_c = (median(f) / f_c) ** power,   then scaled so that sum_c f_c * w_c = 1

i.e. the average weight of a training pixel stays 1 and the loss keeps its scale. The list
goes straight into ``CrossEntropyLoss(class_weight=[...])``. A class with no training pixel
cannot be weighted from data; it gets the largest weight of the others and is named.
"""

import argparse

import numpy as np
from mmengine.config import Config

from segtools.registry import DATASETS, TRANSFORMS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Class-balancing loss weights from the training labels')
    parser.add_argument('config', help='config whose train_dataloader.dataset holds the labels')
    parser.add_argument(
        '--power', type=float, default=0.5, help='exponent of the median-frequency ratio (1: full balancing, 0: none)'
    )
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not 0.0 <= args.power <= 2.0:
        parser.error(f'--power must lie in [0, 2], got {args.power}')
    return args


def count_pixels(cfg: Config) -> tuple[np.ndarray, list[str]]:
    """Pixels per class over the training set: ``(counts (C,) int64, class names)``.

    Raises:
        ValueError: A label map holds a value that is neither a class nor ``ignore_index``
            (the message names the file).
    """
    dataset_cfg = cfg.train_dataloader.dataset
    dataset = DATASETS.build(dataset_cfg)
    classes = list(dataset.metainfo['classes'])
    ignore_index = getattr(dataset, 'ignore_index', 255)
    pipeline = dataset_cfg.get('pipeline', None) or []
    load = TRANSFORMS.build(
        next((t for t in pipeline if t.get('type') == 'LoadAnnotations'), dict(type='LoadAnnotations'))
    )
    counts = np.zeros(len(classes), dtype=np.int64)
    for idx in range(len(dataset)):
        info = load(dataset.get_data_info(idx))
        labels = info['gt_seg_map'].ravel()
        labels = labels[labels != ignore_index].astype(np.int64)
        if labels.size and labels.max() >= len(classes):
            raise ValueError(
                f'{info["seg_map_path"]}: label {int(labels.max())} is not one of the {len(classes)} classes '
                f'(nor ignore_index {ignore_index})'
            )
        counts += np.bincount(labels, minlength=len(classes))
    return counts, classes


def median_frequency_weights(counts: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Median-frequency weights ``(median(f) / f_c) ** power`` scaled to a mean pixel weight of 1.

    Args:
        counts: Pixels per class ``(C,)``; at least one must be positive.
        power: Softening exponent.

    Returns:
        ``(C,)`` float64 weights; an empty class gets the largest weight of the others.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError('the training labels hold no pixel of any class')
    freq = counts / counts.sum()
    present = freq > 0
    weights = np.zeros_like(freq)
    weights[present] = (np.median(freq[present]) / freq[present]) ** power
    weights /= (freq * weights).sum()
    weights[~present] = weights[present].max()
    return weights


def main(argv: list[str] | None = None) -> np.ndarray:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    counts, classes = count_pixels(cfg)
    weights = median_frequency_weights(counts, args.power)
    total = counts.sum()
    width = max(len(name) for name in classes)
    print(f'{"class":<{width}}  {"pixels":>12}  {"share %":>8}  weight')
    for name, count, weight in zip(classes, counts, weights, strict=True):
        print(f'{name:<{width}}  {count:>12d}  {100 * count / total:>8.3f}  {weight:.2f}')
    empty = [name for name, count in zip(classes, counts, strict=True) if count == 0]
    if empty:
        print(f'no training pixels: {empty} (given the largest weight)')
    print(f'class_weight={[round(float(w), 2) for w in weights]}')
    return weights


if __name__ == '__main__':
    run_tool(main)
