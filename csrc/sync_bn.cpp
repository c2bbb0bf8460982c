// Dispatchers of the SyncBN ops (math in csrc/sync_bn.h): argument checks, output
// allocation, then the CPU kernels (csrc/cpu/sync_bn_cpu.cpp) or the CUDA launchers
// (csrc/cuda/sync_bn_cuda.h) through dispatch_device.
#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include "sync_bn.h"

#include <ATen/Dispatch.h>

#include <initializer_list>

#include "cuda/sync_bn_cuda.h"
#include "dispatch.h"

namespace segtools {
namespace {

// x is (N, C, L), float32 or float64, contiguous, on a device this build runs; each of
// like_x has x's shape and each of per_channel shape (C,), both with x's dtype and device
// and contiguous.
void check_tensors(const char* op, const Arg& x, std::initializer_list<Arg> like_x,
                   std::initializer_list<Arg> per_channel) {
  check_shape(op, x.name, x.tensor, {{"N"}, {"C"}, {"L"}});
  check_dtype_device(op, {x});
  check_contiguous(op, {x});
  const auto check = [&](const Arg& arg, std::initializer_list<Dim> dims) {
    check_shape(op, arg.name, arg.tensor, dims);
    check_dtype_device(op, {x, arg});
    check_contiguous(op, {arg});
  };
  const int64_t N = x.tensor.size(0), C = x.tensor.size(1), L = x.tensor.size(2);
  for (const Arg& arg : like_x) check(arg, {{"N", N}, {"C", C}, {"L", L}});
  for (const Arg& arg : per_channel) check(arg, {{"C", C}});
}

void check_activation(const char* op, int64_t activation, double slope, bool saved_is_output) {
  TORCH_CHECK(activation == kSyncBNIdentity || activation == kSyncBNRelu || activation == kSyncBNLeakyRelu, op,
              ": activation must be 0 (identity), 1 (relu) or 2 (leaky_relu), got ", activation);
  const bool invertible = activation == kSyncBNIdentity || (activation == kSyncBNLeakyRelu && slope > 0);
  TORCH_CHECK(!saved_is_output || invertible, op, ": saved_is_output needs an invertible activation (identity, or ",
              "leaky_relu with slope > 0) to recover x from y; got activation ", activation, " with slope ", slope);
}

}  // namespace

std::vector<at::Tensor> sync_bn_stats(const at::Tensor& x) {
  constexpr const char* op = "sync_bn_stats";
  check_tensors(op, {"x", x}, {}, {});
  at::Tensor mean = x.new_empty({x.size(1)});
  at::Tensor m2 = x.new_empty({x.size(1)});
  if (x.size(1) == 0) return {mean, m2};
  dispatch_device(
      op, x, [&] { sync_bn_stats_cpu(x, mean, m2); },
      [&] {
        const int64_t chunks = sync_bn_cuda_chunks(x.size(0), x.size(1), x.size(2));
        at::Tensor partials = x.new_empty({2 * chunks * x.size(1)}, at::kDouble);
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_stats_cuda", [&] {
          sync_bn_stats_cuda<scalar_t>(x.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(), m2.data_ptr<scalar_t>(),
                                       partials.data_ptr<double>(), chunks, x.size(0), x.size(1), x.size(2));
        });
      });
  return {mean, m2};
}

at::Tensor sync_bn_forward(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                           const at::Tensor& weight, const at::Tensor& bias, int64_t activation, double slope,
                           bool inplace) {
  constexpr const char* op = "sync_bn_forward";
  check_tensors(op, {"x", x}, {}, {{"mean", mean}, {"invstd", invstd}, {"weight", weight}, {"bias", bias}});
  check_activation(op, activation, slope, false);
  at::Tensor y = inplace ? x : empty_like_dense(x);
  if (x.numel() == 0) return y;
  dispatch_device(
      op, x, [&] { sync_bn_forward_cpu(x, mean, invstd, weight, bias, activation, slope, y); },
      [&] {
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_forward_cuda", [&] {
          sync_bn_forward_cuda<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
                                         invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                                         bias.data_ptr<scalar_t>(), x.size(0), x.size(1), x.size(2), activation, slope);
        });
      });
  return y;
}

std::vector<at::Tensor> sync_bn_backward_reduce(const at::Tensor& grad_y, const at::Tensor& saved,
                                                const at::Tensor& mean, const at::Tensor& invstd,
                                                const at::Tensor& weight, const at::Tensor& bias, int64_t activation,
                                                double slope, bool saved_is_output) {
  constexpr const char* op = "sync_bn_backward_reduce";
  check_tensors(op, {"saved", saved}, {{"grad_y", grad_y}},
                {{"mean", mean}, {"invstd", invstd}, {"weight", weight}, {"bias", bias}});
  check_activation(op, activation, slope, saved_is_output);
  at::Tensor sum_dz = saved.new_empty({saved.size(1)});
  at::Tensor sum_dz_xhat = saved.new_empty({saved.size(1)});
  if (saved.size(1) == 0) return {sum_dz, sum_dz_xhat};
  dispatch_device(
      op, saved,
      [&] {
        sync_bn_backward_reduce_cpu(grad_y, saved, mean, invstd, weight, bias, activation, slope, saved_is_output,
                                    sum_dz, sum_dz_xhat);
      },
      [&] {
        const int64_t chunks = sync_bn_cuda_chunks(saved.size(0), saved.size(1), saved.size(2));
        at::Tensor partials = saved.new_empty({2 * chunks * saved.size(1)}, at::kDouble);
        AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_reduce_cuda", [&] {
          sync_bn_backward_reduce_cuda<scalar_t>(
              grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
              invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
              sum_dz.data_ptr<scalar_t>(), sum_dz_xhat.data_ptr<scalar_t>(), partials.data_ptr<double>(), chunks,
              saved.size(0), saved.size(1), saved.size(2), activation, slope, saved_is_output);
        });
      });
  return {sum_dz, sum_dz_xhat};
}

at::Tensor sync_bn_backward_elemt(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                  const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                  const at::Tensor& mean_dz, const at::Tensor& mean_dz_xhat, int64_t activation,
                                  double slope, bool saved_is_output) {
  constexpr const char* op = "sync_bn_backward_elemt";
  check_tensors(op, {"saved", saved}, {{"grad_y", grad_y}},
                {{"mean", mean},
                 {"invstd", invstd},
                 {"weight", weight},
                 {"bias", bias},
                 {"mean_dz", mean_dz},
                 {"mean_dz_xhat", mean_dz_xhat}});
  check_activation(op, activation, slope, saved_is_output);
  at::Tensor grad_x = empty_like_dense(saved);
  if (saved.numel() == 0) return grad_x;
  dispatch_device(
      op, saved,
      [&] {
        sync_bn_backward_elemt_cpu(grad_y, saved, mean, invstd, weight, bias, mean_dz, mean_dz_xhat, activation, slope,
                                   saved_is_output, grad_x);
      },
      [&] {
        AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_elemt_cuda", [&] {
          sync_bn_backward_elemt_cuda<scalar_t>(
              grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
              invstd.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
              mean_dz.data_ptr<scalar_t>(), mean_dz_xhat.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
              saved.size(0), saved.size(1), saved.size(2), activation, slope, saved_is_output);
        });
      });
  return grad_x;
}

}  // namespace segtools
