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

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#ifdef WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

#include "cuda/sync_bn_cuda.h"

namespace segtools {

enum SyncBNActivation : int64_t { kSyncBNIdentity = 0, kSyncBNRelu = 1, kSyncBNLeakyRelu = 2 };

// CPU kernels (csrc/cpu/sync_bn_cpu.cpp). Inputs are contiguous and checked by the
// dispatchers below; outputs are preallocated.
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


namespace sync_bn_detail {

inline void check_x(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK(t.dim() == 3, op, ": ", name, " must have shape (N, C, L), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", name,
              " must be float32 or float64, got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " must be contiguous");
  TORCH_CHECK(t.is_cpu() || t.is_cuda(), op, ": unsupported device ", t.device());
}

inline void check_like(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x) {
  TORCH_CHECK(t.sizes() == x.sizes(), op, ": ", name, " must have the shape of x ", x.sizes(), ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), op, ": ", name, " must have x's dtype ", x.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " must be on x's device ", x.device(), ", got ", t.device());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

inline void check_channel(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", name, " must have shape (C,) with C = ", x.size(1),
              ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), op, ": ", name, " must have x's dtype ", x.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " must be on x's device ", x.device(), ", got ", t.device());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

inline void check_activation(const char* op, int64_t activation, double slope, bool saved_is_output) {
  TORCH_CHECK(activation == kSyncBNIdentity || activation == kSyncBNRelu || activation == kSyncBNLeakyRelu, op,
              ": activation must be 0 (identity), 1 (relu) or 2 (leaky_relu), got ", activation);
  TORCH_CHECK(!saved_is_output || activation == kSyncBNIdentity || (activation == kSyncBNLeakyRelu && slope > 0),
              op, ": saved_is_output needs an invertible activation (identity, or leaky_relu with slope > 0) to "
              "recover x from y; got activation ", activation, " with slope ", slope);
}

inline void no_cuda(const char* op) {
  TORCH_CHECK(false, op,
              ": segtools._ext was built without CUDA; rebuild it with "
              "`FORCE_CUDA=1 pip install --no-build-isolation -e .` on a machine with the CUDA toolkit");
}

}  // namespace sync_bn_detail

// Per-channel statistics of x (N, C, L): {mean (C,), m2 (C,)} with
// m2 = sum_{n,l} (x - mean)^2. Sums are taken in double around a sample of each
// channel (x[0, c, 0]), which removes the cancellation of the E[x^2] - E[x]^2
// formula. An empty x (N * L == 0) gives zeros.
inline std::vector<at::Tensor> sync_bn_stats(const at::Tensor& x) {
  constexpr const char* op = "sync_bn_stats";
  sync_bn_detail::check_x(op, "x", x);
  at::Tensor mean = at::empty({x.size(1)}, x.options());
  at::Tensor m2 = at::empty({x.size(1)}, x.options());
  if (x.size(1) == 0) return {mean, m2};
  if (x.is_cuda()) {
#ifdef WITH_CUDA
    const c10::cuda::CUDAGuard guard(x.device());
    const int64_t chunks = sync_bn_cuda_chunks(x.size(0), x.size(1), x.size(2));
    at::Tensor partials = at::empty({2 * chunks * x.size(1)}, x.options().dtype(at::kDouble));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_stats_cuda", [&] {
      sync_bn_stats_cuda<scalar_t>(x.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(), m2.data_ptr<scalar_t>(),
                                   partials.data_ptr<double>(), chunks, x.size(0), x.size(1), x.size(2));
    });
#else
    sync_bn_detail::no_cuda(op);
#endif
  } else {
    sync_bn_stats_cpu(x, mean, m2);
  }
  return {mean, m2};
}

// y = act((x - mean) * invstd * weight + bias) for x (N, C, L); with inplace, y is
// written into x and x is returned.
inline at::Tensor sync_bn_forward(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                                  const at::Tensor& weight, const at::Tensor& bias, int64_t activation, double slope,
                                  bool inplace) {
  constexpr const char* op = "sync_bn_forward";
  sync_bn_detail::check_x(op, "x", x);
  sync_bn_detail::check_channel(op, "mean", mean, x);
  sync_bn_detail::check_channel(op, "invstd", invstd, x);
  sync_bn_detail::check_channel(op, "weight", weight, x);
  sync_bn_detail::check_channel(op, "bias", bias, x);
  sync_bn_detail::check_activation(op, activation, slope, false);
  at::Tensor y = inplace ? x : at::empty_like(x);
  if (x.numel() == 0) return y;
  if (x.is_cuda()) {
#ifdef WITH_CUDA
    const c10::cuda::CUDAGuard guard(x.device());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_forward_cuda", [&] {
      sync_bn_forward_cuda<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
                                     invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                                     bias.data_ptr<scalar_t>(), x.size(0), x.size(1), x.size(2), activation, slope);
    });
#else
    sync_bn_detail::no_cuda(op);
#endif
  } else {
    sync_bn_forward_cpu(x, mean, invstd, weight, bias, activation, slope, y);
  }
  return y;
}

// Local per-channel {sum_dz (C,), sum_dz_xhat (C,)}; saved is x, or y when
// saved_is_output (in-place ABN). weight is the weight the forward used.
inline std::vector<at::Tensor> sync_bn_backward_reduce(const at::Tensor& grad_y, const at::Tensor& saved,
                                                       const at::Tensor& mean, const at::Tensor& invstd,
                                                       const at::Tensor& weight, const at::Tensor& bias,
                                                       int64_t activation, double slope, bool saved_is_output) {
  constexpr const char* op = "sync_bn_backward_reduce";
  sync_bn_detail::check_x(op, "saved", saved);
  sync_bn_detail::check_like(op, "grad_y", grad_y, saved);
  sync_bn_detail::check_channel(op, "mean", mean, saved);
  sync_bn_detail::check_channel(op, "invstd", invstd, saved);
  sync_bn_detail::check_channel(op, "weight", weight, saved);
  sync_bn_detail::check_channel(op, "bias", bias, saved);
  sync_bn_detail::check_activation(op, activation, slope, saved_is_output);
  at::Tensor sum_dz = at::empty({saved.size(1)}, saved.options());
  at::Tensor sum_dz_xhat = at::empty({saved.size(1)}, saved.options());
  if (saved.size(1) == 0) return {sum_dz, sum_dz_xhat};
  if (saved.is_cuda()) {
#ifdef WITH_CUDA
    const c10::cuda::CUDAGuard guard(saved.device());
    const int64_t chunks = sync_bn_cuda_chunks(saved.size(0), saved.size(1), saved.size(2));
    at::Tensor partials = at::empty({2 * chunks * saved.size(1)}, saved.options().dtype(at::kDouble));
    AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_reduce_cuda", [&] {
      sync_bn_backward_reduce_cuda<scalar_t>(
          grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
          invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
          sum_dz.data_ptr<scalar_t>(), sum_dz_xhat.data_ptr<scalar_t>(), partials.data_ptr<double>(), chunks,
          saved.size(0), saved.size(1), saved.size(2), activation, slope, saved_is_output);
    });
#else
    sync_bn_detail::no_cuda(op);
#endif
  } else {
    sync_bn_backward_reduce_cpu(grad_y, saved, mean, invstd, weight, bias, activation, slope, saved_is_output, sum_dz,
                                sum_dz_xhat);
  }
  return {sum_dz, sum_dz_xhat};
}

// grad_x (N, C, L) = weight * invstd * (dz - mean_dz - xhat * mean_dz_xhat).
inline at::Tensor sync_bn_backward_elemt(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                         const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                         const at::Tensor& mean_dz, const at::Tensor& mean_dz_xhat,
                                         int64_t activation, double slope, bool saved_is_output) {
  constexpr const char* op = "sync_bn_backward_elemt";
  sync_bn_detail::check_x(op, "saved", saved);
  sync_bn_detail::check_like(op, "grad_y", grad_y, saved);
  sync_bn_detail::check_channel(op, "mean", mean, saved);
  sync_bn_detail::check_channel(op, "invstd", invstd, saved);
  sync_bn_detail::check_channel(op, "weight", weight, saved);
  sync_bn_detail::check_channel(op, "bias", bias, saved);
  sync_bn_detail::check_channel(op, "mean_dz", mean_dz, saved);
  sync_bn_detail::check_channel(op, "mean_dz_xhat", mean_dz_xhat, saved);
  sync_bn_detail::check_activation(op, activation, slope, saved_is_output);
  at::Tensor grad_x = at::empty_like(saved);
  if (saved.numel() == 0) return grad_x;
  if (saved.is_cuda()) {
#ifdef WITH_CUDA
    const c10::cuda::CUDAGuard guard(saved.device());
    AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_elemt_cuda", [&] {
      sync_bn_backward_elemt_cuda<scalar_t>(
          grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
          invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
          mean_dz.data_ptr<scalar_t>(), mean_dz_xhat.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
          saved.size(0), saved.size(1), saved.size(2), activation, slope, saved_is_output);
    });
#else
    sync_bn_detail::no_cuda(op);
#endif
  } else {
    sync_bn_backward_elemt_cpu(grad_y, saved, mean, invstd, weight, bias, mean_dz, mean_dz_xhat, activation, slope,
                               saved_is_output, grad_x);
  }
  return grad_x;
}

}  // namespace segtools
