"""Export a trained segmentor to ONNX and check it against PyTorch with onnxruntime on a real image.

Usage::

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT [--output FILE.onnx] [--image IMAGE]
        [--shape H W] [--opset N] [--device cpu] [--cfg-options k=v ...] [--debug]

Needs ``pip install -r requirements/deploy.txt`` (onnx, onnxruntime, onnxscript). The model
(config + weights-only checkpoint, as ``tools/infer.py`` loads them) is exported in
whole-image mode, whatever the config's ``test_cfg`` says (no sliding window, no TTA), by
``torch.onnx.export(dynamo=True)`` (see :mod:`segtools.apis.onnx_export`): input ``inputs``,
the preprocessed (normalised) images ``(N, 3, H, W)`` float32; output ``logits``
``(N, K, H, W)`` at the input size; batch, height and width dynamic.

Then onnxruntime runs the exported model next to PyTorch on ``--image`` (default: a slice of
the bundled brain-MRI atlas) prepared by the config's test pipeline and the model's data
preprocessor, and on a batch of two views of it (as is and flipped) resized to ``--shape``
(default: 3/4 of its height by 5/4 of its width), which proves the dynamic sizes. For each it
prints the largest absolute difference of the logits and the share of pixels whose argmax
agrees, then the median latency of PyTorch and of onnxruntime (same thread count) on the
image. The ``.onnx`` file (default: the checkpoint's path with ``.onnx``) is written, atomically,
only when the argmax agrees on at least 99.9% of the pixels of both checks; otherwise (or when
onnxruntime fails on the second size) the tool says so and exits with status 1, writing
nothing. Segment images with it by ``tools/infer.py IMAGE CONFIG FILE.onnx --out-dir DIR``.

Adaptive pooling into several bins (the pyramid pooling of PSPNet and UPerNet, DRANet's CPAM),
which ``torch.export`` would trace for the example's size only, computes its bins from the
input's size while exporting (:mod:`segtools.models.utils.adaptive_pool`), so these models
export with dynamic sizes too. Known limit: model code that still turns a size into a Python
number during the trace (compares it, loops over it) makes the ONNX model fail the second
check, or the export itself when it fixes the height or width.

A missing config, checkpoint or image, missing deployment packages, or a size the export
fixed, is one line ``pytorch2onnx.py: error: ...`` and exit status 2 (``--debug`` adds the
traceback).
"""

import argparse
import os.path as osp
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from segtools.apis import ImageReadError, init_model
from segtools.apis.onnx_export import MIN_SIZE, WholeImageLogits, export_onnx
from segtools.apis.onnx_model import OnnxRuntimeLogits, import_deploy_module
from segtools.apis.pipeline import build_inference_pipelines
from segtools.errors import CheckpointNotFoundError, ConfigError
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options
from segtools.utils.fileio import atomic_write_bytes

REPO = Path(__file__).resolve().parents[2]
DEFAULT_IMAGE = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val' / 'colin27_axial_057.png'
#: Share of pixels whose argmax must agree between onnxruntime and PyTorch.
MIN_AGREEMENT = 0.999
LATENCY_RUNS = 5
# Default second size, relative to the image's: another size and another aspect ratio.
SECOND_SCALE = (0.75, 1.25)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a segmentor to ONNX and check it with onnxruntime')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint file, a model-store name (segtools://NAME) or a URL')
    parser.add_argument('--output', help='the .onnx file to write (default: the checkpoint path with .onnx)')
    parser.add_argument('--image', help=f'image to check the export on (default: {DEFAULT_IMAGE.relative_to(REPO)})')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='second size to check at, e.g. the deployment size (default: 3/4 x 5/4 of the prepared image)',
    )
    parser.add_argument('--opset', type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument('--device', default='cpu', help='torch device of the PyTorch model (default: cpu)')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.shape is not None and min(args.shape) < MIN_SIZE:
        parser.error(f'--shape H W must be at least {MIN_SIZE} each, got {args.shape}')
    if args.output is None:
        name = args.checkpoint.rstrip('/').rsplit('/', 1)[-1] if '://' in args.checkpoint else args.checkpoint
        args.output = str(Path(name).with_suffix('.onnx'))
    return args


def check_inputs(args: argparse.Namespace) -> Path:
    """The image to check with; raises for a missing config, checkpoint or image, or missing packages."""
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise CheckpointNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    if not osp.isfile(args.config):
        raise ConfigError(f'config {args.config} does not exist')
    image = Path(args.image) if args.image else DEFAULT_IMAGE
    if not image.is_file():
        raise ImageReadError(f'image {image} does not exist')
    for module in ('onnx', 'onnxscript', 'onnxruntime'):
        import_deploy_module(module)
    return image


def prepare(model: torch.nn.Module, image: Path) -> torch.Tensor:
    """``image`` through the config's test pipeline and the model's data preprocessor: ``(1, 3, H, W)``."""
    pipeline = build_inference_pipelines(model.cfg)[0]
    try:
        packed = pipeline(dict(img_path=str(image)))
    except Exception as error:  # noqa: BLE001 - re-raised naming the image
        raise ImageReadError(f'cannot read or prepare image {image}: {type(error).__name__}: {error}') from error
    return model.data_preprocessor(pseudo_collate([packed]), False)['inputs']


def second_view(inputs: torch.Tensor, shape: Sequence[int] | None) -> torch.Tensor:
    """The image and its horizontal flip, resized to ``shape``: a batch ``(2, 3, h, w)``."""
    height, width = inputs.shape[2:]
    if shape is None:
        shape = [max(MIN_SIZE, round(size * scale)) for size, scale in zip((height, width), SECOND_SCALE, strict=True)]
    resized = F.interpolate(inputs, size=tuple(shape), mode='bilinear', align_corners=False)
    return torch.cat([resized, resized.flip(-1)])


def compare(expected: torch.Tensor, got: torch.Tensor) -> tuple[float, float]:
    """Largest absolute logit difference and share of pixels with the same argmax, ``(N, K, H, W)`` each."""
    if expected.shape != got.shape:
        raise RuntimeError(f'onnxruntime gave logits of shape {tuple(got.shape)}, PyTorch {tuple(expected.shape)}')
    diff = float((expected - got).abs().max())
    agreement = float((expected.argmax(1) == got.argmax(1)).float().mean())
    return diff, agreement


def median_ms(run: Callable[[], object], runs: int = LATENCY_RUNS) -> float:
    """Median wall time of ``run()`` in milliseconds, after one warm-up call."""
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def opset_of(onnx_bytes: bytes) -> int:
    """The default-domain opset of a serialized ONNX model."""
    proto = import_deploy_module('onnx').load_model_from_string(onnx_bytes)
    return next(entry.version for entry in proto.opset_import if entry.domain in ('', 'ai.onnx'))


def shape_text(tensor: torch.Tensor) -> str:
    return 'x'.join(str(size) for size in tensor.shape)


def check(network: WholeImageLogits, runtime: OnnxRuntimeLogits, batch: torch.Tensor, label: str) -> str | None:
    """Prints how onnxruntime's logits of ``batch`` compare with PyTorch's; returns what failed, if anything."""
    with torch.no_grad():
        expected = network(batch).float().cpu()
    try:
        got = runtime(batch.cpu())
    except Exception as error:  # noqa: BLE001 - onnxruntime's own classes; a failed check, reported
        print(f'check {shape_text(batch)} ({label}): onnxruntime failed: {str(error).splitlines()[0]}', flush=True)
        return (
            f'onnxruntime fails at {shape_text(batch)}: an op was traced for the example size only (a size the '
            "model's code turned into a number)"
        )
    diff, agreement = compare(expected, got)
    print(
        f'check {shape_text(batch)} ({label}): max |logits diff| {diff:.3g}, argmax agreement {100 * agreement:.3f}%',
        flush=True,
    )
    if agreement < MIN_AGREEMENT:
        return f'argmax agreement {100 * agreement:.3f}% < {100 * MIN_AGREEMENT:.1f}% at {shape_text(batch)}'
    return None


def report_latency(network: WholeImageLogits, runtime: OnnxRuntimeLogits, inputs: torch.Tensor, threads: int) -> None:
    """Prints the median latencies of PyTorch and onnxruntime on ``inputs`` and their ratio."""

    def run_torch() -> None:
        with torch.no_grad():
            network(inputs)
        if inputs.is_cuda:
            torch.cuda.synchronize(inputs.device)

    torch_ms = median_ms(run_torch)
    cpu_inputs = inputs.cpu()
    ort_ms = median_ms(lambda: runtime(cpu_inputs))
    print(
        f'latency {shape_text(inputs)} (median of {LATENCY_RUNS}, {threads} thread{"s" * (threads != 1)}): '
        f'PyTorch ({inputs.device}) {torch_ms:.1f} ms, onnxruntime (CPU) {ort_ms:.1f} ms, '
        f'ratio PyTorch/onnxruntime {torch_ms / ort_ms:.2f}',
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    image = check_inputs(args)
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    model = init_model(cfg, args.checkpoint, device=args.device)
    test_cfg = dict(getattr(model, 'test_cfg', None) or {})
    if test_cfg.get('mode', 'whole') != 'whole' or test_cfg.get('tta') is not None:
        print(f'note: the config test_cfg {test_cfg} is not exported: the ONNX model runs whole-image inference')
    model.test_cfg = dict(mode='whole')
    network = WholeImageLogits(model).eval()
    inputs = prepare(model, image)
    onnx_bytes = export_onnx(model, inputs, opset=args.opset, dataset_meta=model.dataset_meta)

    threads = torch.get_num_threads()  # onnxruntime gets as many as PyTorch: a fair comparison
    runtime = OnnxRuntimeLogits(onnx_bytes, num_threads=threads)
    views = ((inputs, image.name), (second_view(inputs, args.shape), 'resized, with its flip'))
    failed = [failure for batch, label in views if (failure := check(network, runtime, batch, label))]
    if failed:
        print(
            f'pytorch2onnx.py: error: the ONNX model does not reproduce PyTorch ({"; ".join(failed)}); '
            f'{args.output} was not written',
            file=sys.stderr,
            flush=True,
        )
        return 1
    report_latency(network, runtime, inputs, threads)
    atomic_write_bytes(args.output, onnx_bytes)
    print(
        f'wrote {args.output} ({len(onnx_bytes) / 2**20:.1f} MiB, opset {opset_of(onnx_bytes)}): inputs (N, 3, H, W) '
        f'float32 -> logits (N, {runtime.num_classes}, H, W); N, H, W dynamic (H, W >= {MIN_SIZE})',
        flush=True,
    )
    return 0


if __name__ == '__main__':
    run_tool(main)
