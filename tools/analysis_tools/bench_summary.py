"""Runs every benchmark of ``make bench`` and prints one table of the ratios they measured.

The benchmarks (each prints its own detailed table first):

- ``benchmark_ops.py``: the Encoding ops against MMSegmentation's broadcasting form, the fused
  SyncBN (+ activation) against ``nn.BatchNorm2d`` + activation;
- ``benchmark_amp.py``: training step, prediction and peak memory in float32 and bfloat16;
- ``benchmark_loss.py``: the decode heads' loss, the fused upsampled cross-entropy against
  upsampling first (the loss alone, and a whole training step);
- ``benchmark_norm.py``: a training step of the real models with segtools' SyncBN against
  ``nn.BatchNorm2d``, in one process and in two gloo processes;
- ``benchmark_tta.py``: 6-scale x flip sliding-window evaluation, batched views against the
  view-by-view loop (and that their predictions are equal);
- ``tools/deployment/pytorch2onnx.py``: the demo model (random weights) exported to ONNX,
  onnxruntime's latency against PyTorch's (skipped without ``requirements/deploy.txt``).

Every ratio comes from this one run; ``> 1`` means segtools' variant is faster (smaller).

Usage::

    python tools/analysis_tools/bench_summary.py [--quick] [--json OUT]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
DEMO_CONFIG = 'configs/demo/fcn_r18-d8_brain-atlas.py'


def run(tool: str, args: list[str], out: Path) -> object:
    """Runs one benchmark with ``--json out`` (its table goes to stdout) and returns its results."""
    cmd = [sys.executable, str(TOOLS / tool), *args, '--json', str(out)]
    print(f'$ {" ".join(cmd[1:])}', flush=True)
    subprocess.run(cmd, check=True, cwd=TOOLS.parents[1])
    return json.loads(out.read_text())


def onnx_latency(tmp: Path) -> dict | None:
    """PyTorch and onnxruntime latency (ms) of the demo model with random weights, or ``None`` without onnxruntime."""
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in ('onnx', 'onnxscript', 'onnxruntime')):
        print('onnx/onnxruntime not installed (pip install -r requirements/deploy.txt): no ONNX row', flush=True)
        return None
    import re

    import torch
    from bench_utils import random_init_config

    from segtools.registry import MODELS

    cfg = random_init_config(DEMO_CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, tmp / 'demo.pth')
    cmd = [sys.executable, str(TOOLS.parent / 'deployment' / 'pytorch2onnx.py'), DEMO_CONFIG, str(tmp / 'demo.pth')]
    print(f'$ {" ".join(cmd[1:])}', flush=True)
    out = subprocess.run(
        [*cmd, '--output', str(tmp / 'demo.onnx')], check=True, capture_output=True, text=True, cwd=TOOLS.parents[1]
    )
    print(out.stdout, flush=True)
    match = re.search(r'PyTorch \(cpu\) ([\d.]+) ms, onnxruntime \(CPU\) ([\d.]+) ms', out.stdout)
    return dict(torch_ms=float(match[1]), onnxruntime_ms=float(match[2]))


def summary_rows(
    ops: dict,
    amp: list[dict],
    tta: list[dict],
    norm: list[dict] | None = None,
    onnx: dict | None = None,
    loss: dict | None = None,
) -> list[tuple[str, str, str, str, str]]:
    """``(benchmark, case, baseline, segtools, ratio)`` rows; times in ms or s, memory in GiB."""
    rows = []
    cases: dict[tuple, dict] = {}
    for result in ops['results']:
        cases[(result['op'], result['variant'], tuple(result['shape']))] = result
    for (op, variant, shape), result in cases.items():
        if op == 'encoding' and variant == 'ours':
            naive = cases[(op, 'naive', shape)]['forward_backward_s']
            ours = result['forward_backward_s']
            label = f'Encoding fwd+bwd {shape}'
            rows.append(
                ('ops', label, f'mmseg form {naive * 1e3:.1f} ms', f'{ours * 1e3:.1f} ms', f'{naive / ours:.1f}x')
            )
        if op == 'sync_bn' and variant.startswith('ours'):
            base_variant = 'torch-bn-relu' if variant == 'ours-relu' else 'torch-bn-leaky'
            base = cases[(op, base_variant, shape)]['forward_backward_s']
            ours = result['forward_backward_s']
            label = f'SyncBN {variant} fwd+bwd {shape}'
            rows.append(
                ('ops', label, f'{base_variant} {base * 1e3:.1f} ms', f'{ours * 1e3:.1f} ms', f'{base / ours:.2f}x')
            )
    for row in amp:
        name = Path(row['config']).stem
        fp32, bf16 = row['fp32'], row['bf16']
        if bf16 is None:  # benchmark_amp leaves bfloat16 out where the CPU emulates it
            rows.append(('amp', f'{name} train step', f'fp32 {fp32["train"]:.2f} s', 'bf16 emulated here', '-'))
            continue
        rows.append(
            (
                'amp',
                f'{name} train step',
                f'fp32 {fp32["train"]:.2f} s',
                f'bf16 {bf16["train"]:.2f} s',
                f'{row["train_speedup"]:.2f}x',
            )
        )
        rows.append(
            (
                'amp',
                f'{name} predict',
                f'fp32 {fp32["predict"]:.2f} s',
                f'bf16 {bf16["predict"]:.2f} s',
                f'{row["predict_speedup"]:.2f}x',
            )
        )
        ratio = fp32['peak_gib'] / bf16['peak_gib']
        rows.append(
            (
                'amp',
                f'{name} peak memory',
                f'fp32 {fp32["peak_gib"]:.2f} GiB',
                f'bf16 {bf16["peak_gib"]:.2f} GiB',
                f'{ratio:.2f}x',
            )
        )
    if loss is not None:
        fused = loss['loss_path']['fused']
        for baseline in ('checkpointed', 'plain'):
            base = loss['loss_path'][baseline]
            seconds = base['seconds'] / fused['seconds']
            rows.append(
                (
                    'loss',
                    f'upsample + CE fwd+bwd vs {baseline}',
                    f'{base["seconds"]:.3f} s',
                    f'fused {fused["seconds"]:.3f} s',
                    f'{seconds:.2f}x',
                )
            )
        plain = loss['loss_path']['plain']['saved_mib']
        rows.append(
            (
                'loss',
                'kept for backward vs plain',
                f'{plain:.1f} MiB',
                f'fused {fused["saved_mib"]:.1f} MiB',
                f'{plain / fused["saved_mib"]:.0f}x',
            )
        )
        for row in loss['train_step']:
            name = Path(row['config']).stem
            rows.append(
                (
                    'loss',
                    f'{name} train step fp32',
                    f'checkpointed {row["checkpointed"]:.2f} s',
                    f'fused {row["fused"]:.2f} s',
                    f'{row["speedup"]:.2f}x',
                )
            )
    for row in norm or []:
        name = Path(row['config']).stem
        single = row['single']
        ratio = f'{single["BN"] / single["SyncBN"]:.2f}x'
        rows.append(
            (
                'norm',
                f'{name} fwd+bwd, 1 process',
                f'BN {single["BN"]:.2f} s',
                f'SyncBN {single["SyncBN"]:.2f} s',
                ratio,
            )
        )
        if 'distributed' in row:
            dist = row['distributed']
            ratio = f'{dist["BN"] / dist["SyncBN"]:.2f}x'
            rows.append(
                ('norm', f'{name} fwd+bwd, gloo', f'BN {dist["BN"]:.2f} s', f'SyncBN {dist["SyncBN"]:.2f} s', ratio)
            )
    if len(amp) > 1:  # EncNet's peak against PSPNet's (the first two configs), float32
        (first, second) = amp[:2]
        a, b = first['fp32']['peak_gib'], second['fp32']['peak_gib']
        names = f'{Path(first["config"]).stem} vs {Path(second["config"]).stem}'
        rows.append(('memory', f'peak fp32, {names}', f'{b:.2f} GiB', f'{a:.2f} GiB', f'{b / a:.2f}x'))
    loop = next(row for row in tta if row['variant'] == 'loop')
    for row in tta:
        if row['variant'] != 'loop':
            equal = f'{100 * row["equal_labels"]:.2f}% equal labels'
            segtools = f'{row["seconds"]:.2f} s, {equal}'
            rows.append(
                (
                    'tta',
                    f'6 scales x flip, slide, {row["variant"]}',
                    f'loop {loop["seconds"]:.2f} s',
                    segtools,
                    f'{row["speedup"]:.2f}x',
                )
            )
    if onnx is not None:
        torch_ms, ort_ms = onnx['torch_ms'], onnx['onnxruntime_ms']
        rows.append(
            (
                'onnx',
                'demo model latency',
                f'PyTorch {torch_ms:.1f} ms',
                f'onnxruntime {ort_ms:.1f} ms',
                f'{torch_ms / ort_ms:.2f}x',
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer shapes and steps (a smoke run)')
    parser.add_argument('--json', help='also write the summary rows to this file')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ops = run('benchmark_ops.py', ['--quick', '--repeats', '2'] if args.quick else [], tmp / 'ops.json')
        amp_args = [DEMO_CONFIG, '--batch', '1', '--steps', '1'] if args.quick else []
        amp = run('benchmark_amp.py', amp_args, tmp / 'amp.json')
        loss_args = [DEMO_CONFIG, '--batch', '1', '--steps', '1', '--size', '128'] if args.quick else []
        loss = run('benchmark_loss.py', loss_args, tmp / 'loss.json')
        tta_args = ['--crop', '96', '--window-batch', '4', '--repeats', '1'] if args.quick else ['--crop', '128']
        norm_args = [DEMO_CONFIG, '--steps', '1'] if args.quick else []
        norm = run('benchmark_norm.py', norm_args, tmp / 'norm.json')
        tta = run('benchmark_tta.py', tta_args, tmp / 'tta.json')
        onnx = onnx_latency(tmp)
    rows = summary_rows(ops, amp, tta, norm, onnx, loss)
    print('\nSummary (ratios measured in this run; > 1: segtools faster or smaller)\n')
    print('| benchmark | case | baseline | segtools | ratio |')
    print('|---|---|---|---|---|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    if args.json:
        from bench_utils import write_json

        write_json(args.json, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
