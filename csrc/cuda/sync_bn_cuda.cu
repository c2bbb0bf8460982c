// CUDA kernels of the SyncBN ops (math in csrc/sync_bn.h; launcher declarations in
// sync_bn_cuda.h, shared with the dispatchers in csrc/sync_bn.cpp, which this file cannot
// include: ATen would cost minutes of compile time).
//
// Reductions (stats, backward_reduce): a 2-D grid of (channel, chunk) blocks; each
// block sums its chunk of the channel's N * L elements in double with a warp-shuffle
// block reduction and writes one partial; a second kernel adds a channel's partials
// in chunk order. Element-wise kernels (forward, backward_elemt): grid-stride loops
// over N * C * L. Every size (C, N, L down to 1, and N * L == 0) is handled.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "launch.h"
#include "sync_bn_cuda.h"

namespace segtools {
namespace {

constexpr int kThreads = 256;  // a multiple of the warp size; block_sum2 relies on it
constexpr int kWarpSize = 32;
constexpr int64_t kMaxGridY = 65535;
constexpr int kIdentity = 0;
constexpr int kRelu = 1;
constexpr int kLeakyRelu = 2;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int sm_count() {
  int device = 0;
  int count = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return std::max(count, 1);
}

// Blocks for a grid-stride loop over `total` elements: enough to fill the device.
unsigned int elementwise_blocks(int64_t total) {
  const int64_t wanted = ceil_div(std::max<int64_t>(total, 1), kThreads);
  return static_cast<unsigned int>(std::min<int64_t>(wanted, int64_t{sm_count()} * 32));
}

// Channels on grid x (grid-stride over channels beyond it).
unsigned int channel_blocks(int64_t C) { return static_cast<unsigned int>(std::min<int64_t>(C, 1 << 20)); }

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sums a and b over the block; the totals are valid in thread 0. Every thread of
// the block must call it; it ends with a barrier so it can be called again.
__device__ __forceinline__ void block_sum2(double& a, double& b) {
  __shared__ double shared_a[kThreads / kWarpSize];
  __shared__ double shared_b[kThreads / kWarpSize];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  a = warp_sum(a);
  b = warp_sum(b);
  if (lane == 0) {
    shared_a[warp] = a;
    shared_b[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarpSize;
    a = lane < warps ? shared_a[lane] : 0.0;
    b = lane < warps ? shared_b[lane] : 0.0;
    a = warp_sum(a);
    b = warp_sum(b);
  }
  __syncthreads();
}

template <int ACT, typename T>
__device__ __forceinline__ T activate(T z, T slope) {
  if (ACT == kRelu) return z < T(0) ? T(0) : z;
  if (ACT == kLeakyRelu) return z > T(0) ? z : z * slope;
  return z;
}

template <int ACT, typename T>
__device__ __forceinline__ T activation_grad(T z, T grad, T slope) {
  if (ACT == kRelu) return z > T(0) ? grad : T(0);
  if (ACT == kLeakyRelu) return z > T(0) ? grad : grad * slope;
  return grad;
}

// centred = x - mean (xhat = centred * invstd), or with FROM_OUTPUT (s = y):
// centred = act^{-1}(y) - bias (xhat = centred / weight).
template <typename T, int ACT, bool FROM_OUTPUT>
__device__ __forceinline__ void centred_and_dz(T s, T g, T m, T scale, T b, T slope, T& centred, T& dz) {
  if (FROM_OUTPUT) {
    const T z = (ACT == kLeakyRelu && s <= T(0)) ? s / slope : s;
    centred = z - b;
    dz = activation_grad<ACT>(s, g, slope);  // y and z share their sign
  } else {
    centred = s - m;
    dz = ACT == kIdentity ? g : activation_grad<ACT>(centred * scale + b, g, slope);
  }
}

// Element k of channel c among its N * L elements.
__device__ __forceinline__ int64_t channel_index(int64_t k, int64_t c, int64_t C, int64_t L) {
  const int64_t n = k / L;
  return (n * C + c) * L + (k - n * L);
}

template <typename T>
__global__ void stats_partial_kernel(const T* __restrict__ x, double* __restrict__ partials, int64_t N, int64_t C,
                                     int64_t L) {
  const int64_t count = N * L;
  const int64_t chunks = gridDim.y;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    // Sums around a sample of the channel: no E[x^2] - E[x]^2 cancellation.
    const double shift = static_cast<double>(x[c * L]);
    double sum = 0.0, sq = 0.0;
    for (int64_t k = blockIdx.y * int64_t{blockDim.x} + threadIdx.x; k < count; k += chunks * blockDim.x) {
      const double d = static_cast<double>(x[channel_index(k, c, C, L)]) - shift;
      sum += d;
      sq += d * d;
    }
    block_sum2(sum, sq);
    if (threadIdx.x == 0) {
      partials[blockIdx.y * C + c] = sum;
      partials[(chunks + blockIdx.y) * C + c] = sq;
    }
  }
}

template <typename T>
__global__ void stats_finalize_kernel(const T* __restrict__ x, const double* __restrict__ partials,
                                      T* __restrict__ mean, T* __restrict__ m2, int64_t chunks, int64_t N, int64_t C,
                                      int64_t L) {
  const int64_t count = N * L;
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C; c += int64_t{gridDim.x} * blockDim.x) {
    if (count == 0) {
      mean[c] = T(0);
      m2[c] = T(0);
      continue;
    }
    double sum = 0.0, sq = 0.0;
    for (int64_t j = 0; j < chunks; ++j) {
      sum += partials[j * C + c];
      sq += partials[(chunks + j) * C + c];
    }
    const double delta = sum / static_cast<double>(count);
    mean[c] = static_cast<T>(static_cast<double>(x[c * L]) + delta);
    m2[c] = static_cast<T>(fmax(sq - sum * delta, 0.0));
  }
}

template <typename T, int ACT>
__global__ void forward_kernel(const T* x, T* y, const T* __restrict__ mean, const T* __restrict__ invstd,
                               const T* __restrict__ weight, const T* __restrict__ bias, int64_t C, int64_t L,
                               int64_t total, T slope) {
  // x and y may alias (in place), so they are not __restrict__.
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / L) % C;
    const T scale = invstd[c] * weight[c];
    y[i] = activate<ACT>((x[i] - mean[c]) * scale + bias[c], slope);
  }
}

template <typename T, int ACT, bool FROM_OUTPUT>
__global__ void backward_reduce_partial_kernel(const T* __restrict__ grad_y, const T* __restrict__ saved,
                                               const T* __restrict__ mean, const T* __restrict__ invstd,
                                               const T* __restrict__ weight, const T* __restrict__ bias,
                                               double* __restrict__ partials, int64_t N, int64_t C, int64_t L,
                                               T slope) {
  const int64_t count = N * L;
  const int64_t chunks = gridDim.y;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const T m = mean[c];
    const T scale = invstd[c] * weight[c];
    const T b = bias[c];
    double sum_dz = 0.0, sum_dz_centred = 0.0;
    for (int64_t k = blockIdx.y * int64_t{blockDim.x} + threadIdx.x; k < count; k += chunks * blockDim.x) {
      const int64_t i = channel_index(k, c, C, L);
      T centred, dz;
      centred_and_dz<T, ACT, FROM_OUTPUT>(saved[i], grad_y[i], m, scale, b, slope, centred, dz);
      sum_dz += static_cast<double>(dz);
      sum_dz_centred += static_cast<double>(dz) * static_cast<double>(centred);
    }
    block_sum2(sum_dz, sum_dz_centred);
    if (threadIdx.x == 0) {
      partials[blockIdx.y * C + c] = sum_dz;
      partials[(chunks + blockIdx.y) * C + c] = sum_dz_centred;
    }
  }
}

template <typename T, bool FROM_OUTPUT>
__global__ void backward_reduce_finalize_kernel(const double* __restrict__ partials, const T* __restrict__ invstd,
                                                const T* __restrict__ weight, T* __restrict__ sum_dz,
                                                T* __restrict__ sum_dz_xhat, int64_t chunks, int64_t C) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C; c += int64_t{gridDim.x} * blockDim.x) {
    double dz = 0.0, dz_centred = 0.0;
    for (int64_t j = 0; j < chunks; ++j) {
      dz += partials[j * C + c];
      dz_centred += partials[(chunks + j) * C + c];
    }
    const double to_xhat = FROM_OUTPUT ? 1.0 / static_cast<double>(weight[c]) : static_cast<double>(invstd[c]);
    sum_dz[c] = static_cast<T>(dz);
    sum_dz_xhat[c] = static_cast<T>(dz_centred * to_xhat);
  }
}

template <typename T, int ACT, bool FROM_OUTPUT>
__global__ void backward_elemt_kernel(const T* __restrict__ grad_y, const T* __restrict__ saved,
                                      const T* __restrict__ mean, const T* __restrict__ invstd,
                                      const T* __restrict__ weight, const T* __restrict__ bias,
                                      const T* __restrict__ mean_dz, const T* __restrict__ mean_dz_xhat,
                                      T* __restrict__ grad_x, int64_t C, int64_t L, int64_t total, T slope) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / L) % C;
    const T k = weight[c] * invstd[c];
    const T to_xhat = FROM_OUTPUT ? T(1) / weight[c] : invstd[c];
    T centred, dz;
    centred_and_dz<T, ACT, FROM_OUTPUT>(saved[i], grad_y[i], mean[c], k, bias[c], slope, centred, dz);
    grad_x[i] = k * (dz - mean_dz[c] - centred * to_xhat * mean_dz_xhat[c]);
  }
}

// Calls f(integral_constant ACT, bool_constant FROM_OUTPUT) for the combinations the
// dispatchers in sync_bn.cpp accept (they have checked activation and saved_is_output).
template <typename F>
void dispatch_activation(int64_t activation, bool from_output, F&& f) {
  if (from_output) {
    if (activation == kLeakyRelu) {
      f(std::integral_constant<int, kLeakyRelu>{}, std::true_type{});
    } else {
      f(std::integral_constant<int, kIdentity>{}, std::true_type{});
    }
  } else if (activation == kRelu) {
    f(std::integral_constant<int, kRelu>{}, std::false_type{});
  } else if (activation == kLeakyRelu) {
    f(std::integral_constant<int, kLeakyRelu>{}, std::false_type{});
  } else {
    f(std::integral_constant<int, kIdentity>{}, std::false_type{});
  }
}

}  // namespace

int64_t sync_bn_cuda_chunks(int64_t N, int64_t C, int64_t L) {
  const int64_t count = N * L;
  if (count == 0 || C == 0) return 1;
  // Enough (channel, chunk) blocks to fill the device, each with at least a few
  // elements per thread.
  const int64_t target_blocks = int64_t{sm_count()} * 4;
  const int64_t by_size = ceil_div(count, int64_t{kThreads} * 4);
  const int64_t by_occupancy = std::max<int64_t>(1, target_blocks / C);
  return std::clamp<int64_t>(std::min(by_size, by_occupancy), 1, kMaxGridY);
}

template <typename T>
void sync_bn_stats_cuda(const T* x, T* mean, T* m2, double* partials, int64_t chunks, int64_t N, int64_t C, int64_t L) {
  if (C == 0) return;
  const cudaStream_t stream = current_cuda_stream();
  if (N * L > 0) {
    const dim3 grid(channel_blocks(C), static_cast<unsigned int>(chunks));
    stats_partial_kernel<T><<<grid, kThreads, 0, stream>>>(x, partials, N, C, L);
    SEGTOOLS_KERNEL_LAUNCH_CHECK();
  }
  stats_finalize_kernel<T><<<elementwise_blocks(C), kThreads, 0, stream>>>(x, partials, mean, m2, chunks, N, C, L);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void sync_bn_forward_cuda(const T* x, T* y, const T* mean, const T* invstd, const T* weight, const T* bias, int64_t N,
                          int64_t C, int64_t L, int64_t activation, double slope) {
  const int64_t total = N * C * L;
  if (total == 0) return;
  const cudaStream_t stream = current_cuda_stream();
  dispatch_activation(activation, false, [&](auto act, auto) {
    forward_kernel<T, decltype(act)::value><<<elementwise_blocks(total), kThreads, 0, stream>>>(
        x, y, mean, invstd, weight, bias, C, L, total, static_cast<T>(slope));
    SEGTOOLS_KERNEL_LAUNCH_CHECK();
  });
}

template <typename T>
void sync_bn_backward_reduce_cuda(const T* grad_y, const T* saved, const T* mean, const T* invstd, const T* weight,
                                  const T* bias, T* sum_dz, T* sum_dz_xhat, double* partials, int64_t chunks, int64_t N,
                                  int64_t C, int64_t L, int64_t activation, double slope, bool saved_is_output) {
  if (C == 0) return;
  const cudaStream_t stream = current_cuda_stream();
  dispatch_activation(activation, saved_is_output, [&](auto act, auto from_output) {
    constexpr int kAct = decltype(act)::value;
    constexpr bool kFromOutput = decltype(from_output)::value;
    int64_t used_chunks = chunks;
    if (N * L > 0) {
      const dim3 grid(channel_blocks(C), static_cast<unsigned int>(chunks));
      backward_reduce_partial_kernel<T, kAct, kFromOutput><<<grid, kThreads, 0, stream>>>(
          grad_y, saved, mean, invstd, weight, bias, partials, N, C, L, static_cast<T>(slope));
      SEGTOOLS_KERNEL_LAUNCH_CHECK();
    } else {
      used_chunks = 0;  // nothing was summed: the totals are 0
    }
    backward_reduce_finalize_kernel<T, kFromOutput>
        <<<elementwise_blocks(C), kThreads, 0, stream>>>(partials, invstd, weight, sum_dz, sum_dz_xhat, used_chunks, C);
    SEGTOOLS_KERNEL_LAUNCH_CHECK();
  });
}

template <typename T>
void sync_bn_backward_elemt_cuda(const T* grad_y, const T* saved, const T* mean, const T* invstd, const T* weight,
                                 const T* bias, const T* mean_dz, const T* mean_dz_xhat, T* grad_x, int64_t N,
                                 int64_t C, int64_t L, int64_t activation, double slope, bool saved_is_output) {
  const int64_t total = N * C * L;
  if (total == 0) return;
  const cudaStream_t stream = current_cuda_stream();
  dispatch_activation(activation, saved_is_output, [&](auto act, auto from_output) {
    backward_elemt_kernel<T, decltype(act)::value, decltype(from_output)::value>
        <<<elementwise_blocks(total), kThreads, 0, stream>>>(grad_y, saved, mean, invstd, weight, bias, mean_dz,
                                                             mean_dz_xhat, grad_x, C, L, total, static_cast<T>(slope));
    SEGTOOLS_KERNEL_LAUNCH_CHECK();
  });
}

#define SEGTOOLS_INSTANTIATE_SYNC_BN(T)                                                                              \
  template void sync_bn_stats_cuda<T>(const T*, T*, T*, double*, int64_t, int64_t, int64_t, int64_t);                \
  template void sync_bn_forward_cuda<T>(const T*, T*, const T*, const T*, const T*, const T*, int64_t, int64_t,      \
                                        int64_t, int64_t, double);                                                   \
  template void sync_bn_backward_reduce_cuda<T>(const T*, const T*, const T*, const T*, const T*, const T*, T*, T*,  \
                                                double*, int64_t, int64_t, int64_t, int64_t, int64_t, double, bool); \
  template void sync_bn_backward_elemt_cuda<T>(const T*, const T*, const T*, const T*, const T*, const T*, const T*, \
                                               const T*, T*, int64_t, int64_t, int64_t, int64_t, double, bool);

SEGTOOLS_INSTANTIATE_SYNC_BN(float)
SEGTOOLS_INSTANTIATE_SYNC_BN(double)
#undef SEGTOOLS_INSTANTIATE_SYNC_BN

}  // namespace segtools
