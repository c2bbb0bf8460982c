"""DANet's PAM and CAM: identity at initialisation, the formulas once gamma is set."""

import pytest
import torch

from segtools.models.layers.pam_cam import CAM, PAM


def pam_reference(pam: PAM, x: torch.Tensor) -> torch.Tensor:
    q, k, v = (conv(x).flatten(2) for conv in (pam.query_conv, pam.key_conv, pam.value_conv))
    A = torch.softmax(torch.einsum('bci,bcj->bij', q, k), dim=-1)
    return x + pam.gamma * torch.einsum('bcj,bij->bci', v, A).view_as(x)


def cam_reference(cam: CAM, x: torch.Tensor) -> torch.Tensor:
    X = x.flatten(2)
    energy = torch.einsum('bcn,bdn->bcd', X, X)
    A = torch.softmax(energy.max(dim=-1, keepdim=True).values - energy, dim=-1)
    return x + cam.gamma * torch.einsum('bcd,bdn->bcn', A, X).view_as(x)


@pytest.mark.parametrize('module', [PAM(16), CAM()], ids=['PAM', 'CAM'])
def test_gamma_zero_is_identity(module):
    x = torch.randn(2, 16, 5, 3)
    assert module.gamma.item() == 0
    torch.testing.assert_close(module(x), x, rtol=0, atol=0)


def test_pam_matches_formula():
    torch.manual_seed(0)
    pam = PAM(16).double()
    assert pam.query_conv.out_channels == 2
    torch.nn.init.constant_(pam.gamma, 0.7)
    x = torch.randn(2, 16, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(pam(x), pam_reference(pam, x))


def test_cam_matches_formula():
    torch.manual_seed(0)
    cam = CAM().double()
    torch.nn.init.constant_(cam.gamma, 0.7)
    x = torch.randn(2, 6, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(cam(x), cam_reference(cam, x))


def test_gamma_receives_a_gradient():
    pam, cam = PAM(8, key_channels=3), CAM()
    x = torch.randn(2, 8, 4, 4)
    (pam(x) + cam(x)).square().sum().backward()
    assert pam.gamma.grad.abs() > 0 and cam.gamma.grad.abs() > 0
