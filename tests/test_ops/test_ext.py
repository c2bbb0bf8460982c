"""Tests of the extension loader and the shared argument checks."""

import subprocess
import sys
import warnings

import pytest
import torch

from segtools.ops import _ext
from segtools.ops._utils import check_same_dtype_device, check_size, check_tensor, float32_under_autocast


def test_import_segtools_does_not_need_the_extension():
    # A fresh interpreter where `import segtools._ext` fails, as in an unbuilt checkout.
    code = (
        'import sys, warnings, torch\n'
        "sys.modules['segtools._ext'] = None\n"
        'import segtools, segtools.models, segtools.ops\n'
        'from segtools.models.layers import RFConv2d\n'
        'assert not segtools.ops.has_ext()\n'
        'with warnings.catch_warnings(record=True) as w:\n'
        "    warnings.simplefilter('always')\n"
        '    RFConv2d(2, 2, 3, padding=1)(torch.randn(1, 2, 4, 4))\n'
        '    RFConv2d(2, 2, 3, padding=1)(torch.randn(1, 2, 4, 4))\n'
        'print(len(w), w[0].message)\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.startswith('1 ') and 'pip install --no-build-isolation -e .' in out


def test_missing_extension_warns_once_with_build_command(missing_ext):
    with pytest.warns(RuntimeWarning) as record:
        assert _ext.get_ext('scaled_l2', torch.device('cpu')) is None
    assert len(record) == 1
    message = str(record[0].message)
    assert 'pip install --no-build-isolation -e .' in message and 'scaled_l2' in message
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert _ext.get_ext('aggregate', torch.device('cpu')) is None


def test_built_extension_is_returned(require_ext):
    ext = _ext.get_ext('scaled_l2', torch.device('cpu'))
    assert ext is not None and hasattr(ext, 'conv_rectify')
    assert _ext.has_cuda_kernels() == bool(ext.with_cuda())


def test_cuda_tensors_without_cuda_kernels_fall_back(require_ext, monkeypatch):
    if _ext.has_cuda_kernels():
        pytest.skip('this build has CUDA kernels')
    monkeypatch.setattr(_ext, '_warned', set())
    with pytest.warns(RuntimeWarning, match='built without CUDA kernels'):
        assert _ext.get_ext('aggregate', torch.device('cuda')) is None


def test_reference_ops_switch_is_silent_and_scoped(require_ext):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with _ext.reference_ops():
            assert _ext.get_ext('scaled_l2', torch.device('cpu')) is None
    assert _ext.get_ext('scaled_l2', torch.device('cpu')) is not None


def test_check_tensor_messages():
    with pytest.raises(ValueError, match=r'op: X must have shape \(B, N, D\), got shape \(2, 3\)'):
        check_tensor('op', 'X', torch.zeros(2, 3), '(B, N, D)', 3)
    with pytest.raises(ValueError, match='op: X must be a tensor of shape'):
        check_tensor('op', 'X', [1.0], '(B, N, D)', 3)
    with pytest.raises(ValueError, match='float32 or float64.*got torch.int64'):
        check_tensor('op', 'X', torch.zeros(1, 1, 1, dtype=torch.long), '(B, N, D)', 3)
    with pytest.raises(ValueError, match=r'C must have shape \(K, D\) with size 4 in dim 1 \(D of X\)'):
        check_size('op', 'C', torch.zeros(3, 5), 1, 4, '(K, D)', 'D of X')
    with pytest.raises(ValueError, match='S must have the dtype of X'):
        check_same_dtype_device('op', [('X', torch.zeros(1)), ('S', torch.zeros(1, dtype=torch.float64))])


def test_float32_under_autocast():
    @float32_under_autocast
    def dtype_and_autocast(x: torch.Tensor, y: torch.Tensor):
        return x.dtype, y.dtype, torch.is_autocast_enabled('cpu')

    half = torch.zeros(2, dtype=torch.bfloat16)
    double = torch.zeros(2, dtype=torch.float64)
    assert dtype_and_autocast(half, double) == (torch.bfloat16, torch.float64, False)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert dtype_and_autocast(half, double) == (torch.float32, torch.float64, False)
