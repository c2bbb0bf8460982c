"""Count the FLOPs and parameters of a config's segmentor (mmengine ``get_model_complexity_info``).

The model is built from the config without a checkpoint (weights do not change the counts),
put in eval mode and traced on one ``(1, 3, H, W)`` input through its tensor forward
(``model(inputs, mode='tensor')``: backbone, neck and decode head, no post-processing, no
auxiliary heads, which only run in training). Runs on the CPU.

Usage::

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]] [--verbose] [--cfg-options k=v ...]

Like mmseg, FLOPs here are multiply-accumulates as fvcore counts them (one per MAC of
convolutions and matmuls); ops without a counting rule (interpolation, element-wise ops) are
left out, which mmengine reports as a warning.
"""

import argparse

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from torch import nn

from segtools.errors import ConfigError
from segtools.registry import MODELS
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options


class TensorForward(nn.Module):
    """Calls ``segmentor(inputs, mode='tensor')`` so the tracer sees one tensor in, logits out.

    Args:
        segmentor: A segtools segmentor (``forward(inputs, data_samples, mode)``).
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> logits ``(N, K, H', W')``."""
        return self.segmentor(inputs, mode='tensor')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count the FLOPs and parameters of a segmentor.')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[512, 512], help='input size H [W] (default 512 512; one value: square)'
    )
    parser.add_argument('--verbose', action='store_true', help='also print the per-module table')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {len(args.shape)} values: {args.shape}')
    if any(size < 1 for size in args.shape):
        parser.error(f'--shape must be positive, got {args.shape}')
    return args


def build_model(cfg: Config) -> nn.Module:
    """Builds ``cfg.model`` in eval mode on the CPU, without loading any weights."""
    if 'model' not in cfg:
        raise ConfigError(f'config {cfg.filename} has no `model` to count')
    # Building never loads ``pretrained``/``init_cfg`` weights (only init_weights() would).
    model = MODELS.build(cfg.model)
    return model.eval()


def count(model: nn.Module, shape: tuple[int, int], verbose: bool = False) -> dict:
    """Counts one forward on a ``(1, 3, H, W)`` input.

    Args:
        model: A segmentor.
        shape: ``(H, W)``.
        verbose: Also return the per-module table under ``'out_table'``.

    Returns:
        mmengine's dict: ``flops``, ``flops_str``, ``params``, ``params_str``, ``activations``
        (and ``out_table`` when ``verbose``), plus ``input_shape`` ``(1, 3, H, W)``.
    """
    inputs = torch.zeros(1, 3, *shape)
    with torch.no_grad():
        info = get_model_complexity_info(TensorForward(model), inputs=(inputs,), show_table=verbose, show_arch=False)
    info['input_shape'] = tuple(inputs.shape)
    return info


def main(argv: list[str] | None = None) -> dict:
    """Run the tool; returns the complexity dict of :func:`count`."""
    args = parse_args(argv)
    shape = (args.shape[0], args.shape[-1])
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    register_all_modules()
    model = build_model(cfg)
    info = count(model, shape, args.verbose)
    if args.verbose:
        print(info['out_table'])
    rule = '=' * 30
    print(
        f'{rule}\nConfig: {args.config}\nInput shape: {info["input_shape"]}\n'
        f'Flops: {info["flops_str"]} ({info["flops"]})\nParams: {info["params_str"]} ({info["params"]})\n{rule}'
    )
    print('FLOPs count convolutions and matmuls of the tensor forward (no auxiliary heads); check before quoting.')
    return info


if __name__ == '__main__':
    run_tool(main)
