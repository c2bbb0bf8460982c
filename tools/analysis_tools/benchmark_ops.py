"""Benchmark of segtools' compiled ops against the formulations they replace.

Encoding (scaled_l2 + softmax + aggregate), per shape (B, D, H, W, K):
  * ``ours``  -- segtools' kernels (GEMM identities, no B·N·K·D tensor);
  * ``naive`` -- the broadcasting formulation MMSegmentation ships, which
    materialises (B, N, K, D) differences;
  * ``bmm``   -- a lower bound: the same two GEMMs and the softmax alone
    (``X @ Cᵀ``, ``Aᵀ @ X``), without the norms and corrections.
SyncBN, per shape (N, C, H, W): segtools' ``SyncBatchNorm`` in one process (fused
activation) against ``nn.BatchNorm2d`` followed by the activation module.

Each (op, variant, shape) runs in a fresh subprocess so that its peak memory is
its own: peak extra memory = peak RSS during one forward+backward minus the RSS
with the inputs allocated. Times are medians of ``--repeats`` runs after one
warm-up. Ratios are computed from this one run; nothing here asserts a time.

Usage:
    python tools/analysis_tools/benchmark_ops.py [--repeats 5] [--quick] [--json out.json]
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

ENCODING_SHAPES = [(2, 512, 32, 32, 32), (4, 512, 64, 64, 32), (2, 512, 128, 128, 32)]
QUICK_ENCODING_SHAPES = [(2, 64, 16, 16, 8), (2, 128, 32, 32, 16)]
SYNC_BN_SHAPES = [(8, 256, 64, 64)]
QUICK_SYNC_BN_SHAPES = [(4, 32, 16, 16)]
ACCEPTANCE_ENCODING_SHAPE = (4, 512, 64, 64, 32)


def current_rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def naive_encoding(X: torch.Tensor, C: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """MMSegmentation's Encoding: two (B, N, K, D) broadcasts."""
    B, N, D = X.shape
    K = C.shape[0]
    expanded = X.unsqueeze(2).expand(B, N, K, D)
    SL = S.view(1, 1, K) * (expanded - C.view(1, 1, K, D)).pow(2).sum(dim=3)
    A = F.softmax(SL, dim=2)
    return (A.unsqueeze(3) * (expanded - C.view(1, 1, K, D))).sum(dim=1)


def bmm_encoding(X: torch.Tensor, C: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Lower bound: the GEMMs (and softmax) any Encoding needs, nothing else."""
    A = F.softmax(torch.matmul(X, C.t()), dim=2)
    return torch.bmm(A.transpose(1, 2), X)


def ours_encoding(X: torch.Tensor, C: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    from segtools.ops.encoding import aggregate, scaled_l2

    A = F.softmax(scaled_l2(X, C, S), dim=2)
    return aggregate(A, X, C)


ENCODING_VARIANTS = {'ours': ours_encoding, 'naive': naive_encoding, 'bmm': bmm_encoding}


def encoding_case(variant: str, shape: tuple[int, ...]) -> tuple[Callable[[], torch.Tensor], list[torch.Tensor]]:
    B, D, H, W, K = shape
    N = H * W
    X = torch.randn(B, N, D).requires_grad_()
    C = (torch.rand(K, D) * 2 - 1).div_((K * D) ** 0.5).requires_grad_()
    S = (-torch.rand(K)).requires_grad_()
    fn = ENCODING_VARIANTS[variant]
    return (lambda: fn(X, C, S)), [X, C, S]


def sync_bn_case(variant: str, shape: tuple[int, ...]) -> tuple[Callable[[], torch.Tensor], list[torch.Tensor]]:
    from torch import nn

    from segtools.models.layers import SyncBatchNorm

    channels = shape[1]
    x = torch.randn(*shape).requires_grad_()
    if variant == 'ours-relu':
        module = SyncBatchNorm(channels, activation='relu')
    elif variant == 'torch-bn-relu':
        module = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
    elif variant == 'ours-inplace-abn':
        # in-place needs a non-leaf input: both in-place variants pay for the same clone
        inner = SyncBatchNorm(channels, activation='leaky_relu', slope=0.01, inplace=True)
        module = lambda t: inner(t.clone())  # noqa: E731
    elif variant == 'torch-bn-leaky':
        inner = nn.Sequential(nn.BatchNorm2d(channels), nn.LeakyReLU(0.01, inplace=True))
        module = lambda t: inner(t.clone())  # noqa: E731
    else:
        raise ValueError(f'unknown SyncBN variant {variant!r}')
    module.train() if isinstance(module, nn.Module) else inner.train()
    return (lambda: module(x)), [x]


CASES = {'encoding': encoding_case, 'sync_bn': sync_bn_case}


def time_median(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def worker(op: str, variant: str, shape: tuple[int, ...], repeats: int) -> dict:
    """Measures one case in this (fresh) process."""
    torch.manual_seed(0)
    forward, leaves = CASES[op](variant, shape)
    grad = None

    def forward_backward() -> None:
        nonlocal grad
        out = forward()
        if grad is None:
            grad = torch.randn_like(out)
        out.backward(grad)
        for leaf in leaves:
            leaf.grad = None

    base = current_rss_bytes()
    forward_backward()  # warm-up, and the peak-memory sample
    peak_extra = max(0, peak_rss_bytes() - base)
    with torch.no_grad():
        fwd = time_median(lambda: forward(), repeats)
    fwd_bwd = time_median(forward_backward, repeats)
    return dict(
        op=op,
        variant=variant,
        shape=list(shape),
        forward_s=fwd,
        forward_backward_s=fwd_bwd,
        peak_extra_mib=peak_extra / 2**20,
    )


def run_case(op: str, variant: str, shape: tuple[int, ...], repeats: int) -> dict:
    cmd = [sys.executable, __file__, '--worker', op, variant, ','.join(map(str, shape)), '--repeats', str(repeats)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'benchmark case {op}/{variant}/{shape} failed:\n{result.stderr}')
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}'


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    print(f'\n{title}\n')
    print('| ' + ' | '.join(columns) + ' |')
    print('|' + '|'.join('---' for _ in columns) + '|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')


def fmt_ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f}'


def main() -> int:
    parser = argparse.ArgumentParser(description='Benchmark segtools ops (see the module docstring).')
    parser.add_argument('--repeats', type=int, default=5, help='timed repeats per case (median), default 5')
    parser.add_argument('--quick', action='store_true', help='small shapes only (a smoke run)')
    parser.add_argument('--json', help='also write the raw results to this JSON file')
    parser.add_argument('--worker', nargs=3, metavar=('OP', 'VARIANT', 'SHAPE'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1, got {args.repeats}')
    if args.worker:
        op, variant, shape = args.worker
        print(json.dumps(worker(op, variant, tuple(int(v) for v in shape.split(',')), args.repeats)))
        return 0

    from segtools.ops import has_ext

    if not has_ext():
        print('segtools._ext is not built: "ours" would time the references. Build it first.', file=sys.stderr)
        return 1
    print(f'Machine: {machine()}')
    results = []
    enc_rows = []
    for shape in QUICK_ENCODING_SHAPES if args.quick else ENCODING_SHAPES:
        case = {v: run_case('encoding', v, shape, args.repeats) for v in ENCODING_VARIANTS}
        results += case.values()
        ours, naive, bmm = case['ours'], case['naive'], case['bmm']
        enc_rows.append(
            [
                str(shape),
                *(fmt_ms(case[v]['forward_s']) for v in ENCODING_VARIANTS),
                *(fmt_ms(case[v]['forward_backward_s']) for v in ENCODING_VARIANTS),
                *(f'{case[v]["peak_extra_mib"]:.0f}' for v in ENCODING_VARIANTS),
                f'{naive["forward_backward_s"] / ours["forward_backward_s"]:.1f}x',
                f'{ours["forward_backward_s"] / bmm["forward_backward_s"]:.2f}x',
                f'1/{naive["peak_extra_mib"] / max(ours["peak_extra_mib"], 1e-3):.0f}',
            ]
        )
    print_table(
        'Encoding (scaled_l2 + softmax + aggregate), float32, times in ms (median), memory in MiB',
        [
            '(B, D, H, W, K)',
            'fwd ours',
            'fwd naive',
            'fwd bmm',
            'fwd+bwd ours',
            'fwd+bwd naive',
            'fwd+bwd bmm',
            'peak ours',
            'peak naive',
            'peak bmm',
            'naive/ours (f+b)',
            'ours/bmm (f+b)',
            'ours/naive peak',
        ],
        enc_rows,
    )

    bn_rows = []
    for shape in QUICK_SYNC_BN_SHAPES if args.quick else SYNC_BN_SHAPES:
        for ours_name, torch_name in (('ours-relu', 'torch-bn-relu'), ('ours-inplace-abn', 'torch-bn-leaky')):
            ours, base = (
                run_case('sync_bn', ours_name, shape, args.repeats),
                run_case('sync_bn', torch_name, shape, args.repeats),
            )
            results += [ours, base]
            bn_rows.append(
                [
                    str(shape),
                    f'{ours_name} vs {torch_name}',
                    fmt_ms(ours['forward_s']),
                    fmt_ms(base['forward_s']),
                    fmt_ms(ours['forward_backward_s']),
                    fmt_ms(base['forward_backward_s']),
                    f'{ours["forward_backward_s"] / base["forward_backward_s"]:.2f}x',
                    f'{ours["peak_extra_mib"]:.0f}',
                    f'{base["peak_extra_mib"]:.0f}',
                ]
            )
    print_table(
        'SyncBN, one process, training mode, float32, times in ms (median), memory in MiB',
        [
            '(N, C, H, W)',
            'variants',
            'fwd ours',
            'fwd torch',
            'fwd+bwd ours',
            'fwd+bwd torch',
            'ours/torch (f+b)',
            'peak ours',
            'peak torch',
        ],
        bn_rows,
    )
    if args.json:
        with open(args.json + '.tmp', 'w') as f:
            json.dump(dict(machine=machine(), results=results), f, indent=1)
        os.replace(args.json + '.tmp', args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
