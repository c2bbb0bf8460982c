"""tools/deployment/pytorch2onnx.py: a tiny EncNet (Encoding op, SyncBN) exported, checked and run by infer.py;
tiny PSPNet, UPerNet and DRANet (adaptive pooling into several bins) exported and checked."""

import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxscript')
pytest.importorskip('onnxruntime')

from segtools.apis import init_model  # noqa: E402
from segtools.apis.onnx_model import DEPLOY_INSTALL, OnnxRuntimeLogits  # noqa: E402
from segtools.datasets.brain_atlas import BrainAtlasDataset  # noqa: E402
from segtools.models.decode_heads import EncHead  # noqa: E402
from segtools.models.layers.sync_bn import SyncBatchNorm  # noqa: E402
from segtools.utils.cli import run_tool  # noqa: E402

from .checkpoints import noisy_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val' / 'colin27_axial_057.png'
# EncNet on a narrow ResNet-18 with SyncBN everywhere (the Encoding layer's codes too); its
# slide test_cfg must give way to whole-image inference in the export.
CONFIG = f"""
_base_ = [{str(REPO / 'configs' / '_base_' / 'datasets' / 'brain_atlas.py')!r}]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(
        type='EncHead', in_channels=[16, 32, 64], in_index=[1, 2, 3], channels=16, num_codes=8, num_classes=12,
        norm_cfg=norm_cfg, align_corners=False,
    ),
    test_cfg=dict(mode='slide', crop_size=(96, 96), stride=(64, 64)),
)
"""
# Adaptive pooling into 1, 2, 3 and 6 bins, which torch.export would trace for the example's size
# only (see segtools.models.utils.adaptive_pool), on ResNet-18 stages cut short (a quick export).
# At the image's 217x181 the stride-8 maps are 28x23 and UPerNet's stride-32 map 7x6; at 70x90
# they are 9x12 and 3x3 (fewer rows than bins).
_TINY_RESNET = "type='ResNetV1c', depth=18, stem_channels=8, base_channels=8"
_STRIDE_8 = f'{_TINY_RESNET}, num_stages=2, strides=(1, 2), out_indices=(0, 1)'
PYRAMID_MODELS = {
    'pspnet': (_STRIDE_8, "type='PSPHead', in_channels=16, in_index=1"),
    'upernet': (
        f'{_TINY_RESNET}, num_stages=3, strides=(2, 2, 2), out_indices=(0, 1, 2)',
        "type='UPerHead', in_channels=[8, 16, 32], in_index=[0, 1, 2]",
    ),
    # inter_channels: at the default 16 // 4 = 4 (one key channel) torch.export gave the CPAM
    # value projection a batch of 1 for the batch-1 example, so ONNX failed at batch 2.
    'dranet': (_STRIDE_8, "type='DRANHead', in_channels=[8, 16], in_index=[0, 1], inter_channels=16"),
}
PYRAMID_CONFIG = """
_base_ = [{dataset!r}]
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict({backbone}),
    decode_head=dict({head}, channels=16, num_classes=12, align_corners=False),
)
"""
CHECK_LINE = re.compile(
    r'^check (\d+)x3x(\d+)x(\d+) \((.*)\): max \|logits diff\| (\S+), argmax agreement ([\d.]+)%$', re.M
)
LATENCY_LINE = re.compile(
    r'^latency 1x3x217x181 \(median of \d+, \d+ threads?\): PyTorch \(cpu\) ([\d.]+) ms, '
    r'onnxruntime \(CPU\) ([\d.]+) ms, ratio PyTorch/onnxruntime ([\d.]+)$',
    re.M,
)


def _load_tool(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(main, argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` as its command line runs it: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_tool(main, argv, prog=f'{main.__module__}.py')
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def tool():
    return _load_tool('pytorch2onnx', REPO / 'tools' / 'deployment' / 'pytorch2onnx.py')


@pytest.fixture(scope='module')
def exported(tool, tmp_path_factory):
    """The tiny EncNet exported by the tool: ``(config, checkpoint, onnx file, exit status, stdout)``."""
    root = tmp_path_factory.mktemp('pytorch2onnx')
    config = root / 'encnet_tiny.py'
    config.write_text(CONFIG)
    checkpoint = noisy_checkpoint(config, root / 'encnet_tiny.pth', seed=0)
    output = root / 'out' / 'encnet_tiny.onnx'
    code, out, err = _run(tool.main, [str(config), str(checkpoint), '--output', str(output), '--shape', '70', '90'])
    assert code == 0, err[-3000:]
    return config, checkpoint, output, out


def test_cli_prints_both_checks_and_the_latencies(exported):
    _, _, output, out = exported
    assert 'note: the config test_cfg' in out and "'slide'" in out
    checks = CHECK_LINE.findall(out)
    assert [(batch, h, w) for batch, h, w, *_ in checks] == [('1', '217', '181'), ('2', '70', '90')], out
    assert checks[0][3] == IMAGE.name
    for *_, diff, agreement in checks:
        assert float(diff) < 1e-3
        assert float(agreement) >= 99.9
    latency = LATENCY_LINE.search(out)
    assert latency, out
    torch_ms, ort_ms, ratio = map(float, latency.groups())
    assert torch_ms > 0 and ort_ms > 0
    assert ratio == pytest.approx(torch_ms / ort_ms, rel=0.05, abs=0.01)
    assert re.search(rf'^wrote {re.escape(str(output))} \(.* MiB, opset \d+\)', out, re.M), out
    assert [p.name for p in output.parent.iterdir()] == [output.name]  # no temporary file left


def test_exported_logits_match_pytorch_at_two_sizes(exported):
    config, checkpoint, output, _ = exported
    model = init_model(config, checkpoint, device='cpu')
    assert isinstance(model.decode_head, EncHead)
    assert isinstance(model.decode_head.enc_module.codes_norm, SyncBatchNorm)
    assert any(isinstance(module, SyncBatchNorm) for module in model.backbone.modules())
    runtime = OnnxRuntimeLogits(output)
    assert runtime.num_classes == 12
    assert runtime.dataset_meta['classes'] == BrainAtlasDataset.METAINFO['classes']
    domains = {node.domain for node in onnx.load(str(output)).graph.node}
    assert domains <= {'', 'ai.onnx'}, f'custom ops in the graph: {domains}'
    generator = torch.Generator().manual_seed(0)
    for shape in [(1, 3, 64, 96), (3, 3, 97, 75)]:
        inputs = torch.randn(shape, generator=generator)
        with torch.no_grad():
            expected = model.encode_decode(inputs, [{}])
        got = runtime(inputs)
        assert got.shape == (shape[0], 12, *shape[2:])
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_infer_runs_the_onnx_model_like_the_checkpoint(exported, tmp_path):
    config, checkpoint, output, _ = exported
    infer = _load_tool('infer', REPO / 'tools' / 'infer.py')
    common = [str(IMAGE), str(config)]
    code, onnx_out, err = _run(infer.main, [*common, str(output), '--out-dir', str(tmp_path / 'onnx')])
    assert code == 0, err
    # The ONNX model is whole-image inference; so must the PyTorch one be to compare.
    torch_argv = [*common, str(checkpoint), '--out-dir', str(tmp_path / 'torch'), '--device', 'cpu']
    code, torch_out, err = _run(infer.main, [*torch_argv, '--cfg-options', 'model.test_cfg.mode=whole'])
    assert code == 0, err
    assert onnx_out.startswith(f'{IMAGE}: 217x181, classes: ')
    labels = [np.array(Image.open(tmp_path / kind / f'{IMAGE.stem}_pred.png')) for kind in ('onnx', 'torch')]
    assert len(np.unique(labels[1])) >= 2
    assert (labels[0] == labels[1]).mean() >= 0.999
    assert (tmp_path / 'onnx' / f'{IMAGE.stem}_overlay.png').is_file()


def test_a_model_that_disagrees_exits_1_and_writes_nothing(tool, exported, tmp_path, monkeypatch):
    config, _, output, _ = exported
    other = noisy_checkpoint(config, tmp_path / 'other.pth', seed=1)
    # The exported bytes of the first checkpoint, checked against the weights of another.
    monkeypatch.setattr(tool, 'export_onnx', lambda *args, **kwargs: output.read_bytes())
    target = tmp_path / 'bad.onnx'
    code, out, err = _run(tool.main, [str(config), str(other), '--output', str(target)])
    assert code == 1
    assert 'the ONNX model does not reproduce PyTorch' in err and 'was not written' in err
    assert not target.exists()


def test_missing_checkpoint_is_one_line_and_exit_2(tool, exported, tmp_path):
    config = exported[0]
    code, out, err = _run(tool.main, [str(config), str(tmp_path / 'absent.pth')])
    assert code == 2
    message = f'checkpoint {tmp_path / "absent.pth"} does not exist'
    assert err.strip().splitlines() == [f'pytorch2onnx.py: error: CheckpointNotFoundError: {message}']


def test_missing_onnxruntime_names_the_install_command(tool, exported, monkeypatch):
    config, checkpoint, _, _ = exported
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # `import onnxruntime` raises ImportError
    code, _, err = _run(tool.main, [str(config), str(checkpoint)])
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith('pytorch2onnx.py: error: DeployDependencyError: onnxruntime is not installed')
    assert DEPLOY_INSTALL in line


# DRANet (about 7 s) repeats the pooling of the other two: slow.
@pytest.mark.parametrize(
    'name', [pytest.param(name, marks=[pytest.mark.slow] * (name == 'dranet')) for name in PYRAMID_MODELS]
)
def test_adaptive_pooling_models_reproduce_pytorch_at_two_sizes(tool, tmp_path, name):
    backbone, head = PYRAMID_MODELS[name]
    config = tmp_path / f'{name}_tiny.py'
    dataset = str(REPO / 'configs' / '_base_' / 'datasets' / 'brain_atlas.py')
    config.write_text(PYRAMID_CONFIG.format(dataset=dataset, backbone=backbone, head=head))
    checkpoint = noisy_checkpoint(config, tmp_path / f'{name}_tiny.pth', seed=0)
    output = tmp_path / f'{name}_tiny.onnx'
    code, out, err = _run(tool.main, [str(config), str(checkpoint), '--output', str(output), '--shape', '70', '90'])
    assert code == 0, err[-3000:] + out
    checks = CHECK_LINE.findall(out)
    assert [(batch, h, w) for batch, h, w, *_ in checks] == [('1', '217', '181'), ('2', '70', '90')], out
    for *_, diff, agreement in checks:
        assert float(diff) < 1e-3
        assert float(agreement) >= 99.9
    assert output.is_file()
