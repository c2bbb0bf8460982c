"""EncModule: context vector, channel gate, the 1-d norm over the codes."""

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from segtools.models.layers.enc_module import EncModule
from segtools.models.layers.sync_bn import SyncBatchNorm


def test_gate_and_output():
    torch.manual_seed(0)
    module = EncModule(8, 4)
    x = torch.randn(2, 8, 5, 5)
    out, context = module(x)
    assert out.shape == x.shape and context.shape == (2, 8)
    gate = module.gate(context)
    assert ((gate > 0) & (gate < 1)).all()
    torch.testing.assert_close(out, torch.relu(x + x * gate[:, :, None, None]))


def test_context_is_the_mean_of_the_normalised_codes():
    torch.manual_seed(0)
    module = EncModule(8, 4).eval()
    x = torch.randn(2, 8, 5, 5)
    codes = module.encoding(module.encoding_project(x))
    expected = torch.relu(module.codes_norm(codes)).mean(dim=1)
    torch.testing.assert_close(module(x)[1], expected)


@pytest.mark.parametrize(
    ('norm', 'expected'), [('BN', nn.BatchNorm1d), ('SyncBN', SyncBatchNorm)], ids=['BN', 'SyncBN']
)
def test_codes_norm_is_one_dimensional(norm, expected):
    with DefaultScope.overwrite_default_scope('segtools'):
        module = EncModule(8, 4, norm_cfg=dict(type=norm), act_cfg=dict(type='ReLU', inplace=False))
    assert isinstance(module.codes_norm, expected)
    assert module.codes_norm.num_features == 4
    x = torch.randn(2, 8, 3, 3, requires_grad=True)
    out, _ = module(x)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
