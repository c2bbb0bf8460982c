// CPU kernels of the SyncBN ops (math in csrc/sync_bn.h).
//
// Work is split over the N * C contiguous rows x[n, c, :] with at::parallel_for;
// each row is one vectorisable loop over L. Reductions keep one partial per row
// (in double) and add the rows of a channel in a fixed order afterwards, so the
// result does not depend on the number of threads. Passes over the data: stats 1
// read; forward 1 read + 1 write; backward_reduce 2 reads; backward_elemt 2 reads
// + 1 write.
#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "sync_bn.h"

// at::parallel_for of an OpenMP build of torch is an inline `#pragma omp parallel`:
// without -fopenmp it silently runs on one thread.
#ifndef _OPENMP
#warning "sync_bn_cpu.cpp is compiled without -fopenmp: the SyncBN CPU kernels will run on one thread"
#endif

// GCC keeps `cond ? a : b` on floats as a branch under its default -ftrapping-math,
// which stops the vectoriser on every activation loop; no kernel here reads the
// floating-point exception flags, so they may be ignored.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace segtools {
namespace {

// Pointers and sizes shared by the kernels of one call; per-channel arrays have C
// entries.
template <typename T>
struct SyncBNArgs {
  const T* mean;
  const T* invstd;
  const T* weight;
  const T* bias;
  int64_t N;
  int64_t C;
  int64_t L;
  double slope;

  // invstd * weight of channel c, in double: z = (x - mean) * scale + bias.
  double scale(int64_t c) const { return static_cast<double>(invstd[c]) * static_cast<double>(weight[c]); }
};

// Elements per parallel task: small enough to split an (8, 256, 64, 64) map over
// many tasks, large enough that scheduling costs nothing next to the loop.
constexpr int64_t kGrainElements = 32768;

inline int64_t row_grain(int64_t L) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(L, 1)); }

template <int64_t ACT, typename T>
inline T activate(T z, T slope) {
  if constexpr (ACT == kSyncBNRelu) {
    return z < T(0) ? T(0) : z;  // keeps NaN, like torch.relu
  } else if constexpr (ACT == kSyncBNLeakyRelu) {
    const T negative = z * slope;
    return z > T(0) ? z : negative;
  } else {
    return z;
  }
}

// dz = grad_y * act'(z); act' at 0 is 0 for relu and slope for leaky_relu, as in torch.
template <int64_t ACT, typename T>
inline T activation_grad(T z, T grad, T slope) {
  if constexpr (ACT == kSyncBNRelu) {
    return z > T(0) ? grad : T(0);
  } else if constexpr (ACT == kSyncBNLeakyRelu) {
    const T negative = grad * slope;
    return z > T(0) ? grad : negative;
  } else {
    return grad;
  }
}

// Calls f(std::integral_constant<int64_t, ACT>, std::bool_constant<FROM_OUTPUT>) for
// the combinations the dispatchers in sync_bn.cpp accept.
template <typename F>
void dispatch_activation(int64_t activation, bool from_output, F&& f) {
  using Identity = std::integral_constant<int64_t, kSyncBNIdentity>;
  using Relu = std::integral_constant<int64_t, kSyncBNRelu>;
  using Leaky = std::integral_constant<int64_t, kSyncBNLeakyRelu>;
  if (from_output) {
    if (activation == kSyncBNIdentity) return f(Identity{}, std::true_type{});
    TORCH_CHECK(activation == kSyncBNLeakyRelu, "sync_bn: saved_is_output needs identity or leaky_relu");
    return f(Leaky{}, std::true_type{});
  }
  if (activation == kSyncBNIdentity) return f(Identity{}, std::false_type{});
  if (activation == kSyncBNRelu) return f(Relu{}, std::false_type{});
  TORCH_CHECK(activation == kSyncBNLeakyRelu, "sync_bn: unknown activation ", activation);
  return f(Leaky{}, std::false_type{});
}

template <typename T>
void stats_kernel(const T* x, T* mean, T* m2, int64_t N, int64_t C, int64_t L) {
  if (N * L == 0) {
    std::fill(mean, mean + C, T(0));
    std::fill(m2, m2 + C, T(0));
    return;
  }
  // Shifting by a sample of the channel makes sum(d) small, so m2 = sum(d^2) -
  // sum(d)^2 / n does not cancel catastrophically.
  std::vector<double> row_sum(N * C), row_sq(N * C);
  at::parallel_for(0, N * C, row_grain(L), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* row = x + r * L;
      const double shift = static_cast<double>(x[(r % C) * L]);
      double sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum, sq)
      for (int64_t l = 0; l < L; ++l) {
        const double d = static_cast<double>(row[l]) - shift;
        sum += d;
        sq += d * d;
      }
      row_sum[r] = sum;
      row_sq[r] = sq;
    }
  });
  const double count = static_cast<double>(N * L);
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n) {
      sum += row_sum[n * C + c];
      sq += row_sq[n * C + c];
    }
    const double delta = sum / count;
    mean[c] = static_cast<T>(static_cast<double>(x[c * L]) + delta);
    m2[c] = static_cast<T>(std::max(sq - sum * delta, 0.0));
  }
}

template <typename T, int64_t ACT>
void forward_kernel(const T* x, T* y, const SyncBNArgs<T>& a) {
  const T slope = static_cast<T>(a.slope);
  at::parallel_for(0, a.N * a.C, row_grain(a.L), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r % a.C;
      const T m = a.mean[c];
      const T scale = static_cast<T>(a.scale(c));
      const T b = a.bias[c];
      const T* xr = x + r * a.L;
      T* yr = y + r * a.L;  // may equal xr (in place): each element is read before it is written
      const T sl = slope;   // a local, not a captured reference: GCC then keeps it in a register
#pragma omp simd
      for (int64_t l = 0; l < a.L; ++l) {
        yr[l] = activate<ACT>((xr[l] - m) * scale + b, sl);
      }
    }
  });
}

// Centred value of one element and its dz. Non-saved-output: s = x, centred = x - mean
// (xhat = centred * invstd). Saved output: s = y, centred = z - bias with z =
// act^{-1}(y) (xhat = centred / weight).
template <typename T, int64_t ACT, bool FROM_OUTPUT>
inline void centred_and_dz(T s, T g, T m, T scale, T b, T slope, T inv_slope, T& centred, T& dz) {
  if constexpr (FROM_OUTPUT) {
    // z and y share their sign for identity and leaky_relu with slope > 0.
    const T negative = s * inv_slope;
    const T z = (ACT == kSyncBNLeakyRelu && s <= T(0)) ? negative : s;
    centred = z - b;
    dz = activation_grad<ACT>(s, g, slope);
  } else {
    centred = s - m;
    if constexpr (ACT == kSyncBNIdentity) {
      dz = g;
    } else {
      dz = activation_grad<ACT>(centred * scale + b, g, slope);
    }
  }
}

template <typename T, int64_t ACT, bool FROM_OUTPUT>
void backward_reduce_kernel(const T* grad_y, const T* saved, T* sum_dz, T* sum_dz_xhat, const SyncBNArgs<T>& a) {
  const T slope = static_cast<T>(a.slope);
  const T inv_slope = a.slope > 0 ? static_cast<T>(1.0 / a.slope) : T(0);
  std::vector<double> row_dz(a.N * a.C), row_dz_centred(a.N * a.C);
  at::parallel_for(0, a.N * a.C, row_grain(a.L), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r % a.C;
      const T m = a.mean[c];
      const T scale = static_cast<T>(a.scale(c));
      const T b = a.bias[c];
      const T* gr = grad_y + r * a.L;
      const T* sr = saved + r * a.L;
      const T sl = slope, isl = inv_slope;  // locals (see forward_kernel)
      double acc_dz = 0, acc_dz_centred = 0;
#pragma omp simd reduction(+ : acc_dz, acc_dz_centred)
      for (int64_t l = 0; l < a.L; ++l) {
        T centred, dz;
        centred_and_dz<T, ACT, FROM_OUTPUT>(sr[l], gr[l], m, scale, b, sl, isl, centred, dz);
        acc_dz += static_cast<double>(dz);
        acc_dz_centred += static_cast<double>(dz) * static_cast<double>(centred);
      }
      row_dz[r] = acc_dz;
      row_dz_centred[r] = acc_dz_centred;
    }
  });
  for (int64_t c = 0; c < a.C; ++c) {
    double acc_dz = 0, acc_dz_centred = 0;
    for (int64_t n = 0; n < a.N; ++n) {
      acc_dz += row_dz[n * a.C + c];
      acc_dz_centred += row_dz_centred[n * a.C + c];
    }
    const double to_xhat =
        FROM_OUTPUT ? 1.0 / static_cast<double>(a.weight[c]) : static_cast<double>(a.invstd[c]);
    sum_dz[c] = static_cast<T>(acc_dz);
    sum_dz_xhat[c] = static_cast<T>(acc_dz_centred * to_xhat);
  }
}

template <typename T, int64_t ACT, bool FROM_OUTPUT>
void backward_elemt_kernel(const T* grad_y, const T* saved, const T* mean_dz, const T* mean_dz_xhat, T* grad_x,
                           const SyncBNArgs<T>& a) {
  const T slope = static_cast<T>(a.slope);
  const T inv_slope = a.slope > 0 ? static_cast<T>(1.0 / a.slope) : T(0);
  at::parallel_for(0, a.N * a.C, row_grain(a.L), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r % a.C;
      // grad_x = k * (dz - mean_dz - xhat * mean_dz_xhat) = k * dz + coef * centred + offset.
      const double k = a.scale(c);
      const double to_xhat =
          FROM_OUTPUT ? 1.0 / static_cast<double>(a.weight[c]) : static_cast<double>(a.invstd[c]);
      const T kt = static_cast<T>(k);
      const T coef = static_cast<T>(-k * static_cast<double>(mean_dz_xhat[c]) * to_xhat);
      const T offset = static_cast<T>(-k * static_cast<double>(mean_dz[c]));
      const T m = a.mean[c];
      const T scale = kt;  // z = (x - mean) * invstd * weight + bias
      const T b = a.bias[c];
      const T* gr = grad_y + r * a.L;
      const T* sr = saved + r * a.L;
      T* out = grad_x + r * a.L;
      const T sl = slope, isl = inv_slope;  // locals (see forward_kernel)
#pragma omp simd
      for (int64_t l = 0; l < a.L; ++l) {
        T centred, dz;
        centred_and_dz<T, ACT, FROM_OUTPUT>(sr[l], gr[l], m, scale, b, sl, isl, centred, dz);
        out[l] = kt * dz + coef * centred + offset;
      }
    }
  });
}

template <typename T>
SyncBNArgs<T> make_args(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                        const at::Tensor& weight, const at::Tensor& bias, double slope) {
  return SyncBNArgs<T>{mean.data_ptr<T>(), invstd.data_ptr<T>(), weight.data_ptr<T>(), bias.data_ptr<T>(),
                       x.size(0),          x.size(1),            x.size(2),            slope};
}

}  // namespace

void sync_bn_stats_cpu(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& m2) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_stats_cpu", [&] {
    stats_kernel<scalar_t>(x.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(), m2.data_ptr<scalar_t>(), x.size(0),
                           x.size(1), x.size(2));
  });
}

void sync_bn_forward_cpu(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& invstd,
                         const at::Tensor& weight, const at::Tensor& bias, int64_t activation, double slope,
                         const at::Tensor& y) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sync_bn_forward_cpu", [&] {
    const auto args = make_args<scalar_t>(x, mean, invstd, weight, bias, slope);
    dispatch_activation(activation, false, [&](auto act, auto) {
      forward_kernel<scalar_t, decltype(act)::value>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), args);
    });
  });
}

void sync_bn_backward_reduce_cpu(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                 const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                 int64_t activation, double slope, bool saved_is_output, const at::Tensor& sum_dz,
                                 const at::Tensor& sum_dz_xhat) {
  AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_reduce_cpu", [&] {
    const auto args = make_args<scalar_t>(saved, mean, invstd, weight, bias, slope);
    dispatch_activation(activation, saved_is_output, [&](auto act, auto from_output) {
      backward_reduce_kernel<scalar_t, decltype(act)::value, decltype(from_output)::value>(
          grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), sum_dz.data_ptr<scalar_t>(),
          sum_dz_xhat.data_ptr<scalar_t>(), args);
    });
  });
}

void sync_bn_backward_elemt_cpu(const at::Tensor& grad_y, const at::Tensor& saved, const at::Tensor& mean,
                                const at::Tensor& invstd, const at::Tensor& weight, const at::Tensor& bias,
                                const at::Tensor& mean_dz, const at::Tensor& mean_dz_xhat, int64_t activation,
                                double slope, bool saved_is_output, const at::Tensor& grad_x) {
  AT_DISPATCH_FLOATING_TYPES(saved.scalar_type(), "sync_bn_backward_elemt_cpu", [&] {
    const auto args = make_args<scalar_t>(saved, mean, invstd, weight, bias, slope);
    dispatch_activation(activation, saved_is_output, [&](auto act, auto from_output) {
      backward_elemt_kernel<scalar_t, decltype(act)::value, decltype(from_output)::value>(
          grad_y.data_ptr<scalar_t>(), saved.data_ptr<scalar_t>(), mean_dz.data_ptr<scalar_t>(),
          mean_dz_xhat.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(), args);
    });
  });
}

}  // namespace segtools
