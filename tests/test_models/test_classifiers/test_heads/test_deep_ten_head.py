"""DeepTENHead: PyTorch-Encoding's order (conv-BN-ReLU, Encoding, flatten, L2 norm, fc), shapes, keys."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.classifiers import DeepTENHead


def small_head(**kwargs) -> DeepTENHead:
    return DeepTENHead(num_classes=3, in_channels=6, channels=4, num_codes=5, **kwargs)


def direct(head: DeepTENHead, x: torch.Tensor) -> torch.Tensor:
    """The head computed by hand: ConvModule as conv, BN (eval statistics), ReLU; then Deep TEN."""
    bn = head.conv.bn
    y = F.conv2d(x, head.conv.conv.weight)
    y = (y - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
    y = F.relu(y * bn.weight[:, None, None] + bn.bias[:, None, None])
    feats = y.flatten(2).transpose(1, 2)  # (N, HW, D)
    codewords, scale = head.encoding.codewords, head.encoding.scale  # (K, D), (K,)
    residuals = feats[:, :, None, :] - codewords[None, None]  # (N, HW, K, D)
    assign = torch.softmax(scale * residuals.pow(2).sum(dim=-1), dim=2)  # (N, HW, K)
    encoded = (assign[..., None] * residuals).sum(dim=1)  # (N, K, D)
    flat = encoded.reshape(x.shape[0], -1)
    normalised = flat / flat.norm(dim=1, keepdim=True).clamp(min=1e-8)
    return normalised @ head.fc.weight.T + head.fc.bias


def test_matches_the_direct_computation():
    torch.manual_seed(0)
    head = small_head().double().eval()
    with torch.no_grad():
        head.conv.bn.running_mean.uniform_(-0.5, 0.5)
        head.conv.bn.running_var.uniform_(0.5, 2.0)
        head.conv.bn.weight.uniform_(0.5, 1.5)
        head.conv.bn.bias.uniform_(-0.2, 0.2)
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(head((x,)), direct(head, x))


@pytest.mark.parametrize('size', [(1, 1), (3, 5), (7, 7)])
def test_shapes_and_unit_norm_encoding(size):
    head = small_head().train()
    x = torch.randn(2, 6, *size)
    encoded = head.encode(x)
    assert encoded.shape == (2, 5 * 4)
    torch.testing.assert_close(encoded.norm(dim=1), torch.ones(2))
    assert head([torch.randn(2, 1, 1, 1), x]).shape == (2, 3)  # in_index=-1: the last map


def test_defaults_are_deep_ten_minc():
    head = DeepTENHead(num_classes=23, in_channels=2048)
    assert head.conv.conv.out_channels == 128 and head.encoding.num_codes == 32
    assert head.fc.in_features == 32 * 128 and head.fc.out_features == 23
    assert head.conv.conv.bias is None  # the BN after it absorbs a bias (fold one into running_mean)
    # The layout the PyTorch-Encoding converter maps head.{0,1,3,6} onto.
    keys = set(head.state_dict())
    assert {'conv.conv.weight', 'conv.bn.running_mean', 'encoding.codewords', 'encoding.scale', 'fc.weight'} <= keys


def test_refuses_pooled_vectors():
    with pytest.raises(ValueError, match='reads feature maps.*drop the neck'):
        small_head()(torch.randn(2, 6))
    with pytest.raises(ValueError, match='head=DeepTENHead reads feature maps.*drop the neck'):
        small_head().check_in_channels((6,), 'neck', 'head', pooled=True)


def test_gradients_reach_codewords_and_input():
    head = small_head()
    x = torch.randn(2, 6, 3, 3, requires_grad=True)
    head(x).sum().backward()
    for grad in (x.grad, head.encoding.codewords.grad, head.encoding.scale.grad, head.conv.conv.weight.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
