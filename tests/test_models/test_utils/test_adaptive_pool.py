"""segtools.models.utils.adaptive_pool: the export formulation equals F.adaptive_avg_pool2d, and
an exported pyramid of pools (upsampled back) runs in onnxruntime at any size."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segtools.models.utils import AdaptiveAvgPool2d, adaptive_avg_pool2d, adaptive_pool, resize
from segtools.models.utils.adaptive_pool import adaptive_avg_pool2d_exportable

# (H, W): divisible and not, overlapping bins (3x5 into 6), smaller than the bins, 1x1.
SIZES = [(12, 12), (7, 13), (3, 5), (1, 1), (2, 37), (64, 6)]
OUTPUT_SIZES = [1, 2, 3, 6, (2, 3), (6, 1), (1, 6), (None, 3), (4, None), (None, None)]


@pytest.mark.parametrize(('size', 'output_size'), list(itertools.product(SIZES, OUTPUT_SIZES)))
def test_exportable_formulation_equals_adaptive_avg_pool2d(size, output_size):
    x = torch.randn(2, 3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = F.adaptive_avg_pool2d(x, output_size)
    got = adaptive_avg_pool2d_exportable(x, output_size)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_exportable_formulation_takes_unbatched_inputs_and_float32():
    x = torch.randn(3, 7, 13, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(adaptive_avg_pool2d_exportable(x, 6), F.adaptive_avg_pool2d(x, 6))


def test_exportable_formulation_gradient():
    x = torch.randn(1, 2, 5, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: adaptive_avg_pool2d_exportable(t, (3, 6)), (x,))


@pytest.mark.parametrize('output_size', [0, (2, 0), (1, 2, 3)])
def test_invalid_output_sizes_are_refused(output_size):
    with pytest.raises(ValueError, match='output_size must be a positive int or'):
        adaptive_avg_pool2d_exportable(torch.zeros(1, 1, 4, 4), output_size)


def test_outside_export_the_pytorch_op_runs(monkeypatch):
    def fail(*args):
        raise AssertionError('the export formulation ran outside export')

    monkeypatch.setattr(adaptive_pool, 'adaptive_avg_pool2d_exportable', fail)
    x = torch.randn(2, 3, 7, 13)
    assert torch.equal(adaptive_avg_pool2d(x, 6), F.adaptive_avg_pool2d(x, 6))
    assert torch.equal(AdaptiveAvgPool2d((2, 3))(x), F.adaptive_avg_pool2d(x, (2, 3)))


def test_while_exporting_the_export_formulation_runs(monkeypatch):
    monkeypatch.setattr(adaptive_pool, 'is_exporting', lambda: True)
    monkeypatch.setattr(adaptive_pool.F, 'adaptive_avg_pool2d', None)  # calling it would raise
    x = torch.randn(2, 3, 7, 13, dtype=torch.float64)
    expected = adaptive_avg_pool2d_exportable(x, 6)
    torch.testing.assert_close(adaptive_avg_pool2d(x, 6), expected, rtol=0, atol=0)
    torch.testing.assert_close(AdaptiveAvgPool2d(6)(x), expected, rtol=0, atol=0)


def test_module_is_a_drop_in_replacement():
    pool = AdaptiveAvgPool2d((2, None))
    assert isinstance(pool, nn.AdaptiveAvgPool2d)
    assert repr(pool) == repr(nn.AdaptiveAvgPool2d((2, None)))
    assert not pool.state_dict()


class _Pyramid(nn.Module):
    """The pyramid pooling pattern: each scale pooled, then resized back to the input."""

    def __init__(self, scales: tuple[int, ...]) -> None:
        super().__init__()
        self.pools = nn.ModuleList(AdaptiveAvgPool2d(scale) for scale in scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([resize(pool(x), x.shape[2:]) for pool in self.pools], dim=1)


@pytest.mark.filterwarnings('ignore::FutureWarning')  # the exporter's own deprecations
def test_exported_pyramid_runs_in_onnxruntime_at_other_sizes():
    pytest.importorskip('onnxscript')
    ort = pytest.importorskip('onnxruntime')
    model = _Pyramid((1, 2, 3, 6)).eval()
    dims = torch.export.Dim
    # The example is 6 high: comparing the pooled 6x6 map's size with it must not pin the height.
    program = torch.onnx.export(
        model,
        (torch.randn(2, 4, 6, 9),),
        dynamo=True,
        verbose=False,
        input_names=['x'],
        dynamic_shapes={'x': {0: dims('n', min=1), 2: dims('h', min=2), 3: dims('w', min=2)}},
    )
    shape = program.model_proto.graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in shape] == ['n', 4, 'h', 'w']
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(0)
    for size in [(6, 9), (7, 13), (3, 5), (2, 40)]:
        x = torch.randn(1, 4, *size, generator=generator)
        with torch.no_grad():
            expected = model(x)
        got = torch.from_numpy(session.run(None, {'x': x.numpy()})[0])
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
