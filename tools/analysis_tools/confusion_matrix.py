"""Confusion matrix of saved predictions against a config's test set.

The predictions are the label PNGs that ``tools/test.py --out`` writes (``IoUMetric`` with
``save_predictions``, or ``format_only`` for a test set without labels): one
``<image stem>.png`` per test image, holding class indices (plus 1 for a
``reduce_zero_label`` dataset, the ADE20K submission format)::

    python tools/test.py CONFIG CHECKPOINT --out PRED_DIR
    python tools/analysis_tools/confusion_matrix.py CONFIG PRED_DIR SAVE_DIR [--normalize] [--title T] [--show]

Each prediction is matched to the test sample whose image has the same stem. The ground
truth is read with the config's own ``LoadAnnotations`` (so ``reduce_zero_label`` and a
class subset's ``label_map`` apply exactly as in testing) and pixels labelled
``ignore_index`` (255 by default) are left out. ``cm[g, p]`` counts pixels of ground truth
``g`` predicted as ``p``.

Written atomically to SAVE_DIR: ``confusion_matrix.png`` (percent of each ground-truth row,
class names on both axes), ``confusion_matrix.npy`` and ``confusion_matrix.csv`` (pixel
counts, or with ``--normalize`` the row percentages).
"""

import argparse
import csv
import io
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config

from segtools.errors import ConfigError
from segtools.evaluation.functional import confusion_matrix
from segtools.registry import DATASETS, TRANSFORMS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.fileio import atomic_write_bytes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Confusion matrix of saved prediction PNGs on the test set.')
    parser.add_argument('config', help='config file whose test_dataloader.dataset holds the ground truth')
    parser.add_argument('prediction_path', help='folder of <image stem>.png predictions (tools/test.py --out)')
    parser.add_argument('save_dir', help='folder for confusion_matrix.{png,npy,csv}')
    parser.add_argument('--normalize', action='store_true', help='save row percentages instead of counts (npy/csv)')
    parser.add_argument('--title', default='Normalized Confusion Matrix', help='title of the figure')
    parser.add_argument('--color-theme', default='viridis', help='matplotlib colormap of the figure')
    parser.add_argument('--show', action='store_true', help='also show the figure in a window')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    return parser.parse_args(argv)


def annotation_loader(cfg: Config):
    """The test pipeline's ``LoadAnnotations`` (or a default one), built alone: no image is decoded."""
    pipeline = cfg.test_dataloader.dataset.get('pipeline', None) or []
    load_cfg = next((t for t in pipeline if t.get('type') == 'LoadAnnotations'), dict(type='LoadAnnotations'))
    return TRANSFORMS.build(load_cfg)


def read_prediction(path: str, offset: int) -> np.ndarray:
    """A prediction PNG as class indices ``(H, W)`` int64 (``offset`` subtracted)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'prediction {path} is missing; write the predictions with tools/test.py CONFIG CHECKPOINT --out DIR'
        )
    pred = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if pred is None:
        raise ValueError(f'prediction {path} could not be decoded as an image')
    if pred.ndim != 2:
        raise ValueError(f'prediction {path} has shape {pred.shape}; expected a single-channel label PNG (H, W)')
    return pred.astype(np.int64) - offset


def accumulate(cfg: Config, prediction_path: str) -> tuple[np.ndarray, list[str]]:
    """Sums the confusion matrix over the test set.

    Args:
        cfg: The config (``test_dataloader.dataset``).
        prediction_path: Folder of ``<image stem>.png`` predictions.

    Returns:
        ``(cm, classes)``: counts ``(C, C)`` int64 and the class names.

    Raises:
        FileNotFoundError: A test image has no prediction (named).
        ValueError: A prediction's shape differs from its ground truth, or a value lies
            outside the classes (the message names both files).
    """
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = list(dataset.metainfo['classes'])
    ignore_index = getattr(dataset, 'ignore_index', 255)
    load = annotation_loader(cfg)
    total = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for idx in range(len(dataset)):
        info = load(dataset.get_data_info(idx))
        gt = info['gt_seg_map']
        offset = 1 if info.get('reduce_zero_label', False) else 0
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        pred_file = osp.join(prediction_path, stem + '.png')
        pred = read_prediction(pred_file, offset)
        if pred.shape != gt.shape:
            raise ValueError(
                f'prediction {pred_file} has shape {pred.shape} but its ground truth {info["seg_map_path"]} has '
                f'{gt.shape}; predictions must be at the original image size'
            )
        try:
            cm = confusion_matrix(
                torch.from_numpy(pred), torch.from_numpy(gt.astype(np.int64)), len(classes), ignore_index
            )
        except ValueError as err:
            raise ValueError(f'prediction {pred_file} / ground truth {info["seg_map_path"]}: {err}') from err
        total += cm.numpy()
    return total, classes


def row_percent(cm: np.ndarray) -> np.ndarray:
    """Each ground-truth row as percentages (a row without pixels stays 0)."""
    rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(100.0 * cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)


def figure_png(percent: np.ndarray, classes: list[str], title: str, cmap: str, show: bool) -> bytes:
    """The row-percent matrix drawn with class names on both axes, as PNG bytes."""
    import matplotlib

    if not show:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    num = len(classes)
    size = max(6.0, 0.5 * num + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(percent, cmap=cmap, vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of ground-truth pixels')
    ax.set_xticks(range(num), classes, rotation=45, ha='right')
    ax.set_yticks(range(num), classes)
    ax.set_xlabel('Prediction')
    ax.set_ylabel('Ground truth')
    ax.set_title(title)
    if num <= 40:  # beyond that the numbers would not fit their cells
        for g in range(num):
            for p in range(num):
                color = 'white' if percent[g, p] < 50 else 'black'
                ax.text(p, g, f'{percent[g, p]:.1f}', ha='center', va='center', fontsize=7, color=color)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    if show:
        plt.show()
    plt.close(fig)
    return buf.getvalue()


def save(cm: np.ndarray, classes: list[str], save_dir: str, args: argparse.Namespace) -> None:
    """Writes ``confusion_matrix.{png,npy,csv}`` into ``save_dir``, each atomically."""
    os.makedirs(save_dir, exist_ok=True)
    percent = row_percent(cm)
    table = percent if args.normalize else cm
    npy = io.BytesIO()
    np.save(npy, table)
    atomic_write_bytes(osp.join(save_dir, 'confusion_matrix.npy'), npy.getvalue())
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['gt \\ pred', *classes])
    for name, row in zip(classes, table, strict=True):
        writer.writerow([name, *(f'{v:.4f}' if args.normalize else str(v) for v in row)])
    atomic_write_bytes(osp.join(save_dir, 'confusion_matrix.csv'), text.getvalue().encode())
    png = figure_png(percent, classes, args.title, args.color_theme, args.show)
    atomic_write_bytes(osp.join(save_dir, 'confusion_matrix.png'), png)


def main(argv: list[str] | None = None) -> np.ndarray:
    """Run the tool; returns the confusion matrix of pixel counts ``(C, C)``."""
    args = parse_args(argv)
    if not osp.isdir(args.prediction_path):
        raise FileNotFoundError(f'prediction folder {args.prediction_path!r} does not exist')
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    if 'test_dataloader' not in cfg or 'dataset' not in cfg.test_dataloader:
        raise ConfigError(f'{args.config} has no test_dataloader.dataset to take the ground truth from')
    register_all_modules()
    cm, classes = accumulate(cfg, args.prediction_path)
    save(cm, classes, args.save_dir, args)
    print(f'Confusion matrix of {int(cm.sum())} pixels over {len(classes)} classes written to {args.save_dir}')
    return cm


if __name__ == '__main__':
    run_tool(main)
