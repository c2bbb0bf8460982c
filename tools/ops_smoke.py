"""Smoke run of segtools: build a small model from config dicts and train it.

Until the training tools land, the main job trains a DeepTEN-style texture
classifier built entirely from segtools' registered layers and compiled ops:
``ConvModule`` with ``RFConv2d`` convolutions and in-place-activated
``SyncBatchNorm`` (``norm_cfg=dict(type='SyncBN', ...)``), then the ``Encoding``
layer. The data are generated stripe textures (horizontal vs vertical vs
checkerboard, with noise). It prints the loss curve, the accuracy, whether the
compiled ops agree with their plain-PyTorch references, and their speed-up.

Usage: ``python tools/ops_smoke.py [--iters 60] [--seed 0]`` (``make smoke``)
"""

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import nn

from segtools.models.layers import Encoding
from segtools.ops import has_ext, reference_ops
from segtools.utils import register_all_modules

NUM_CLASSES = 3


def make_textures(n: int, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy stripe textures with a random period and phase, shape ``(n, 3, size, size)``."""
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    coords = torch.arange(size, dtype=torch.float32)
    period = torch.randint(3, 7, (n, 1, 1), generator=generator).float()
    phase = torch.rand(n, 1, 1, generator=generator) * 6.28
    rows = torch.sin(coords[None, :, None] * 6.28 / period + phase).expand(n, size, size)
    cols = torch.sin(coords[None, None, :] * 6.28 / period + phase).expand(n, size, size)
    pattern = torch.where(labels[:, None, None] == 0, rows, torch.where(labels[:, None, None] == 1, cols, rows * cols))
    images = pattern[:, None].expand(n, 3, size, size) + 0.5 * torch.randn(n, 3, size, size, generator=generator)
    return images, labels


class TextureEncoder(nn.Module):
    """Conv stem (RFConv2d + in-place ABN) -> Encoding -> linear classifier."""

    def __init__(self, channels: int = 32, num_codes: int = 8) -> None:
        super().__init__()
        norm_cfg = dict(type='SyncBN', activation='leaky_relu', slope=0.01, inplace=True)
        conv_cfg = dict(type='RFConv2d')
        self.stem = nn.Sequential(
            ConvModule(3, channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
            ConvModule(channels, channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
        )
        self.encoding = Encoding(channels, num_codes)
        self.classifier = nn.Linear(channels * num_codes, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes = self.encoding(self.stem(x))  # (B, K, D)
        return self.classifier(F.normalize(codes.flatten(1), dim=1) * 10)


def train(model: nn.Module, iters: int, generator: torch.Generator) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(iters):
        images, labels = make_textures(32, 24, generator)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, generator: torch.Generator) -> float:
    model.eval()
    images, labels = make_textures(256, 24, generator)
    return (model(images).argmax(1) == labels).float().mean().item()


def time_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        F.cross_entropy(model(images), labels).backward()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=60, help='training iterations (default 60)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    args = parser.parse_args()
    if args.iters < 1:
        parser.error(f'--iters must be >= 1, got {args.iters}')

    register_all_modules()
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    print(f'segtools ops smoke run: compiled extension {"built" if has_ext() else "MISSING (reference fallback)"}')
    model = TextureEncoder()
    print(model)

    losses = train(model, args.iters, generator)
    tenth = max(1, len(losses) // 10)
    for i in range(0, len(losses), tenth):
        print(f'iter {i + 1:4d}  loss {sum(losses[i : i + tenth]) / len(losses[i : i + tenth]):.4f}')
    acc = accuracy(model, generator)
    print(f'held-out accuracy on {NUM_CLASSES} texture classes: {acc:.3f} (chance {1 / NUM_CLASSES:.3f})')

    # The same weights through the compiled kernels and through the references.
    model.train()
    images, labels = make_textures(16, 24, generator)
    kernel_state = torch.random.get_rng_state()
    kernel_out = model(images.clone())
    with reference_ops():
        torch.random.set_rng_state(kernel_state)
        reference_out = model(images.clone())
        reference_time = time_step(model, images, labels)
    kernel_time = time_step(model, images, labels)
    max_diff = (kernel_out - reference_out).abs().max().item()
    print(
        f'kernels vs references: max |logit difference| {max_diff:.2e}; forward+backward '
        f'{kernel_time * 1e3:.1f} ms vs {reference_time * 1e3:.1f} ms ({reference_time / kernel_time:.2f}x)'
    )

    ok = losses[-1] < losses[0] and acc > 1.5 / NUM_CLASSES and max_diff < 1e-3
    print('ops smoke run', 'PASSED' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
