"""Browse a dataset: draw training samples, after the training pipeline, with their ground truth.

Builds ``train_dataloader.dataset`` of a config (with its pipeline, so crops, flips and
colour jitter show up as the model would see them) and draws ``image | GT overlay`` for
each sample with :class:`SegLocalVisualizer`, in a window and/or as PNGs.

Usage::

    python tools/analysis_tools/browse_dataset.py configs/_base_/datasets/brain_atlas.py \
        --output-dir work_dirs/browse --not-show --max-samples 8
"""

import argparse
import os.path as osp

from mmengine.registry import init_default_scope

import segtools.datasets  # noqa: F401  (registers the datasets and transforms)
from segtools.errors import ConfigError
from segtools.registry import DATASETS
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.visualization.seg_local_visualizer import SegLocalVisualizer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file whose train_dataloader.dataset is browsed')
    parser.add_argument('--output-dir', default=None, help='write each drawing here as <image stem>.png')
    parser.add_argument('--not-show', action='store_true', help='do not open a window')
    parser.add_argument('--show-interval', type=float, default=2.0, help='seconds each shown image stays')
    parser.add_argument('--max-samples', type=int, default=None, help='stop after this many samples (default: all)')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.not_show and args.output_dir is None:
        parser.error('with --not-show nothing would be drawn anywhere: pass --output-dir')
    if args.max_samples is not None and args.max_samples < 1:
        parser.error(f'--max-samples must be positive, got {args.max_samples}')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the number of samples drawn."""
    args = parse_args(argv)
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    if 'train_dataloader' not in cfg or 'dataset' not in cfg.train_dataloader:
        raise ConfigError(f'{args.config} has no train_dataloader.dataset to browse')
    init_default_scope(cfg.get('default_scope', 'segtools'))

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    visualizer = SegLocalVisualizer(name='browse_dataset')
    visualizer.dataset_meta = dataset.metainfo

    num_samples = len(dataset) if args.max_samples is None else min(args.max_samples, len(dataset))
    for index in range(num_samples):
        item = dataset[index]
        data_sample = item['data_samples']
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # packed BGR (C, H, W) -> RGB (H, W, C)
        stem = osp.splitext(osp.basename(data_sample.img_path))[0]
        out_file = None if args.output_dir is None else osp.join(args.output_dir, f'{stem}.png')
        visualizer.add_datasample(
            stem,
            image,
            data_sample,
            draw_pred=False,
            show=not args.not_show,
            wait_time=args.show_interval,
            out_file=out_file,
        )
        print(f'[{index + 1}/{num_samples}] {data_sample.img_path}' + (f' -> {out_file}' if out_file else ''))
    return num_samples


if __name__ == '__main__':
    run_tool(lambda argv: main(argv) and 0)  # main returns a sample count, not a status
