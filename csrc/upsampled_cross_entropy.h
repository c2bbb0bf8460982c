// Cross-entropy of bilinearly upsampled logits, without the upsampled logits: what a decode
// head's loss computes as F.cross_entropy(F.interpolate(x, (H, W), mode='bilinear'), y,
// reduction='none'), fused so that the N x K x H x W tensor (the largest of a training step)
// is never stored, in the forward or the backward.
//   z_i       = bilinear(x)[:, i]                          (K logits at output pixel i)
//   lse_i     = log sum_c exp(z_i[c])
//   loss_i    = w[y_i] * (lse_i - z_i[y_i])                 (0 where y_i == ignore_index)
//   pred_i    = argmax_c z_i[c]                             (the first maximum)
//   grad z_i  = g_i * w[y_i] * (softmax(z_i) - onehot(y_i)),  grad x = bilinear^T(grad z)
// The backward recomputes z_i from x (one blend of four taps) and takes lse_i from the
// forward. Interpolation as torch.nn.functional.interpolate (mode='bilinear', size=(H, W),
// either align_corners); any H, W (downsampling too). CPU kernels only: on CUDA the Python
// side keeps the plain-PyTorch form.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <tuple>

namespace segtools {

// logits (N, K, h, w) float32/float64, target (N, H, W) int64, class_weight (K,) of logits'
// dtype or none. Returns loss (N, H, W), lse (N, H, W) and pred (N, H, W) int64. A label that
// is neither in [0, K) nor ignore_index is an error.
std::tuple<at::Tensor, at::Tensor, at::Tensor> upsampled_cross_entropy_forward(
    const at::Tensor& logits, const at::Tensor& target, const std::optional<at::Tensor>& class_weight,
    bool align_corners, int64_t ignore_index);

// grad_loss (N, H, W) and the forward's arguments and lse -> grad_logits (N, K, h, w), contiguous.
at::Tensor upsampled_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                            const at::Tensor& target, const std::optional<at::Tensor>& class_weight,
                                            const at::Tensor& lse, bool align_corners, int64_t ignore_index);

}  // namespace segtools
