"""segtools.apis.onnx_model: the onnxruntime session, its checks, and predictions like a PyTorch segmentor's.

The models here are hand-made graphs (``logits = inputs``, three classes), so the post-processing
is checked against a formula without an export; the export round trip is in
tests/test_tools/test_pytorch2onnx.py.
"""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
from onnx import TensorProto, helper  # noqa: E402

from segtools.apis import inference_model  # noqa: E402
from segtools.apis.onnx_model import (  # noqa: E402
    DEPLOY_INSTALL,
    META_KEY,
    DeployDependencyError,
    OnnxModelError,
    OnnxRuntimeLogits,
    init_onnx_model,
)
from segtools.errors import ConfigError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val' / 'colin27_axial_057.png'
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
META = dict(classes=['dark', 'mid', 'bright'], palette=[[0, 0, 0], [128, 128, 128], [255, 255, 255]])
# The test pipeline of the bundled dataset; the preprocessor pads to a multiple of 32 at test time.
CONFIG = f"""
_base_ = [{str(REPO / 'configs' / '_base_' / 'datasets' / 'brain_atlas.py')!r}]
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean={MEAN}, std={STD}, bgr_to_rgb=True, test_cfg=dict(size_divisor=32)
    ),
    decode_head=dict(type='FCNHead', num_classes=3, align_corners=False),
)
"""


def _identity_model(path: Path, names: tuple[str, str] = ('inputs', 'logits'), meta: dict | None = None) -> Path:
    """An ONNX model whose logits ``(N, 3, H, W)`` are its inputs."""
    graph = helper.make_graph(
        [helper.make_node('Identity', [names[0]], [names[1]])],
        'identity',
        [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, ['N', 3, 'H', 'W'])],
        [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, ['N', 3, 'H', 'W'])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)], ir_version=10)
    if meta is not None:
        helper.set_model_props(model, {META_KEY: json.dumps(meta)})
    onnx.save(model, str(path))
    return path


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / 'identity.py'
    path.write_text(CONFIG)
    return path


def test_runtime_returns_the_logits_on_the_inputs_device(tmp_path):
    runtime = OnnxRuntimeLogits(_identity_model(tmp_path / 'm.onnx', meta=META), num_threads=1)
    inputs = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    logits = runtime(inputs)
    assert logits.dtype == torch.float32 and logits.device == inputs.device
    torch.testing.assert_close(logits, inputs.float())
    assert runtime.num_classes == 3
    assert runtime.dataset_meta == dict(META, classes=tuple(META['classes']))


def test_runtime_refuses_other_inputs_and_outputs(tmp_path):
    expected = r"not a segmentor exported by .*pytorch2onnx.*\('x', \['N', 3, 'H', 'W'\]\)"
    with pytest.raises(OnnxModelError, match=expected):
        OnnxRuntimeLogits(_identity_model(tmp_path / 'm.onnx', names=('x', 'y')))


def test_runtime_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(OnnxModelError, match=r'absent\.onnx does not exist'):
        OnnxRuntimeLogits(tmp_path / 'absent.onnx')
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not a protobuf')
    with pytest.raises(OnnxModelError, match=r'cannot load ONNX model .*broken\.onnx'):
        OnnxRuntimeLogits(broken)


def test_missing_onnxruntime_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(DeployDependencyError, match=DEPLOY_INSTALL.replace('.', r'\.')):
        OnnxRuntimeLogits(tmp_path / 'm.onnx')


def test_onnx_segmentor_predicts_at_the_original_size_without_the_padding(tmp_path, config):
    model = init_onnx_model(config, _identity_model(tmp_path / 'm.onnx', meta=META))
    assert model.dataset_meta['classes'] == tuple(META['classes'])
    result = inference_model(model, IMAGE)
    # Expected: the normalised RGB channels themselves, argmax over them.
    rgb = cv2.imread(str(IMAGE))[..., ::-1].astype(np.float32)
    normalised = torch.from_numpy((rgb - MEAN) / STD).permute(2, 0, 1).float()
    assert result.seg_logits.data.shape == (3, 217, 181)  # padded to 224x192 by the preprocessor, cropped back
    torch.testing.assert_close(result.seg_logits.data, normalised)
    torch.testing.assert_close(result.pred_sem_seg.data[0], normalised.argmax(0))


def test_classes_of_the_config_must_match_the_model(tmp_path):
    config = tmp_path / 'twelve.py'
    config.write_text(CONFIG.replace('num_classes=3', 'num_classes=12'))
    # No stored classes: the config's test dataset (12 brain-atlas classes) against 3 channels.
    with pytest.raises(ConfigError, match='lists 12 classes but the decode head'):
        init_onnx_model(config, _identity_model(tmp_path / 'm.onnx'))


def test_importing_the_deploy_modules_imports_no_onnx_package():
    code = (
        'import sys, segtools.apis.onnx_model, segtools.apis.onnx_export; '
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'onnxscript') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '[]'
