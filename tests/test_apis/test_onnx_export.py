"""segtools.apis.onnx_export: what it refuses; the export itself is tested end to end in
tests/test_tools/test_pytorch2onnx.py."""

import pytest
import torch
from torch import nn

from segtools.apis.onnx_export import MIN_SIZE, OnnxExportError, WholeImageLogits, _check_dynamic, export_onnx
from segtools.errors import ConfigError

onnx = pytest.importorskip('onnx')
from onnx import TensorProto, helper  # noqa: E402


def test_only_encoder_decoders_are_exported():
    with pytest.raises(ConfigError, match='needs a segmentor with encode_decode .* got Linear'):
        WholeImageLogits(nn.Linear(2, 2))


def test_a_too_small_example_is_refused():
    segmentor = nn.Module()
    segmentor.encode_decode = lambda inputs, metas: inputs
    pytest.importorskip('onnxscript')
    with pytest.raises(ConfigError, match=f'H, W >= {MIN_SIZE}'):
        export_onnx(segmentor, torch.zeros(1, 3, MIN_SIZE - 1, 64))


@pytest.mark.parametrize(
    ('shape', 'fixed'), [(['N', 3, 'H', 'W'], None), (['N', 3, 64, 'W'], 'height = 64'), ([1, 3, 'H', 8], 'batch = 1')]
)
def test_sizes_fixed_by_the_exporter_are_named(shape, fixed):
    graph = helper.make_graph(
        [helper.make_node('Identity', ['inputs'], ['logits'])],
        'identity',
        [helper.make_tensor_value_info('inputs', TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, shape)],
    )
    proto = helper.make_model(graph)
    if fixed is None:
        _check_dynamic(proto, (1, 3, 64, 96))
    else:
        with pytest.raises(OnnxExportError, match=f'the export fixed {fixed}.*would only accept that size'):
            _check_dynamic(proto, (1, 3, 64, 96))
