// Synchronised batch normalisation fused with an activation (and its in-place
// variant, in-place ABN: "In-Place Activated BatchNorm", Rota Bulo et al., 2018).
//
// Every tensor is viewed as (N, C, L): channel c of sample n is the contiguous row
// x[n, c, :]. With xhat = (x - mean) * invstd and z = xhat * weight + bias:
//   forward          y = act(z),  act in {identity, relu, leaky_relu(slope)}
//   backward_reduce  dz = grad_y * act'(z);  sum_dz = sum_{n,l} dz,  sum_dz_xhat = sum_{n,l} dz * xhat
//   backward_elemt   grad_x = weight * invstd * (dz - mean_dz - xhat * mean_dz_xhat)
// where mean_dz / mean_dz_xhat are the (all-reduced) sums divided by the global
// count, or zeros in eval mode. The statistics (mean, M2 = sum (x - mean)^2) and
// the all-reduce between ranks are left to Python, so the same kernels serve the
// local and the distributed case.
//
// With saved_is_output the backward gets y instead of x (in-place ABN keeps only
// y): z = act^{-1}(y) and xhat = (z - bias) / weight, so the activation must be
// invertible (identity, or leaky_relu with slope > 0) and weight non-zero (the
// Python side clamps |weight| away from 0).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace segtools {

enum SyncBNActivation : int64_t { kSyncBNIdentity = 0, kSyncBNRelu = 1, kSyncBNLeakyRelu = 2 };

// The dispatchers (csrc/sync_bn.cpp): argument checks, then the kernels of the device of x.

// Per-channel statistics of x (N, C, L): {mean (C,), m2 (C,)} with
// m2 = sum_{n,l} (x - mean)^2. Sums are taken in double around a sample of each
// channel (x[0, c, 0]), which removes the cancellation of the E[x^2] - E[x]^2
// formula. An empty x (N * L == 0) gives zeros.
std::vector<at::Tensor> sync_bn_stats(const at::Tensor& x);

// y = act((x - mean) * invstd * weight + bias) for x (N, C, L); with inplace, y is
// written into x and x is returned.
at::Tensor sync_bn_forward(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                           const at::Tensor& weight, const at::Tensor& bias, int64_t activation, double slope,
                           bool inplace);

// Local per-channel {sum_dz (C,), sum_dz_xhat (C,)}; saved is x, or y when
// saved_is_output (in-place ABN). weight is the weight the forward used.
std::vector<at::Tensor> sync_bn_backward_reduce(const at::Tensor& grad_y, const at::Tensor& saved,
                                                const at::Tensor& mean, const at::Tensor& invstd,
                                                const at::Tensor& weight, const at::Tensor& bias, int64_t activation,
                                                double slope, bool saved_is_output);

// grad_x (N, C, L) = weight * invstd * (dz - mean_dz - xhat * mean_dz_xhat).
at::Tensor sync_bn_backward_elemt(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                  const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                  const at::Tensor& mean_dz, const at::Tensor& mean_dz_xhat, int64_t activation,
                                  double slope, bool saved_is_output);

// CPU kernels (csrc/cpu/sync_bn_cpu.cpp). Inputs are contiguous and checked by the
// dispatchers; outputs are preallocated. The CUDA launchers are in csrc/cuda/sync_bn_cuda.h.
void sync_bn_stats_cpu(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& m2);
void sync_bn_forward_cpu(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                         const at::Tensor& weight, const at::Tensor& bias, int64_t activation, double slope,
                         const at::Tensor& y);
void sync_bn_backward_reduce_cpu(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                 const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                 int64_t activation, double slope, bool saved_is_output, const at::Tensor& sum_dz,
                                 const at::Tensor& sum_dz_xhat);
void sync_bn_backward_elemt_cpu(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                const at::Tensor& mean_dz, const at::Tensor& mean_dz_xhat, int64_t activation,
                                double slope, bool saved_is_output, const at::Tensor& grad_x);

}  // namespace segtools
