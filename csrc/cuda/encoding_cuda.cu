// CUDA fix-up kernels of the Encoding ops (see csrc/encoding.h for the algebra and for the
// CPU twins in csrc/cpu/encoding_cpu.cpp; both families are declared in encoding_cuda.h). The GEMMs run in
// ATen (cuBLAS); the caller has set the device, so the current stream is the right one.
// No ATen here: it keeps this file compiling in seconds.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "encoding_cuda.h"
#include "launch.h"

namespace segtools {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;
// Enough blocks to fill any current GPU; the grid-stride loops cover the rest.
constexpr int64_t kMaxBlocks = 4096;

inline int blocks_for(int64_t work, int64_t per_block) {
  return static_cast<int>(std::max<int64_t>(1, std::min(kMaxBlocks, (work + per_block - 1) / per_block)));
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

// Same NaN behaviour as std::max(v, T(0)) on the CPU: NaN passes through.
template <typename T>
__device__ __forceinline__ T clamp_min_zero(T v) {
  return v < T(0) ? T(0) : v;
}

// One warp per row of a contiguous (rows, dim) matrix.
template <typename T>
__global__ void sq_norms_rows_kernel(const T* __restrict__ x, int64_t nrows, int64_t dim, T* __restrict__ sq,
                                     T* __restrict__ grad_x, const T* __restrict__ w, T alpha) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = blockDim.x / kWarp;
  // The loop bound is the same for all lanes of a warp, so the shuffles see full warps.
  for (int64_t r = blockIdx.x * warps + threadIdx.x / kWarp; r < nrows; r += gridDim.x * warps) {
    const T* xr = x + r * dim;
    T acc = 0;
    for (int64_t d = lane; d < dim; d += kWarp) acc += xr[d] * xr[d];
    acc = warp_sum(acc);
    if (lane == 0) sq[r] = acc;
    if (grad_x != nullptr) {
      const T scale = alpha * w[r];
      T* gr = grad_x + r * dim;
      for (int64_t d = lane; d < dim; d += kWarp) gr[d] += scale * xr[d];
    }
  }
}

// x[b, d, n] (channels first): blockDim (32 positions, kSlices planes); the partial sums over
// the planes are reduced in shared memory. Reads are coalesced along n.
constexpr int kSlices = 8;

template <typename T>
__global__ void sq_norms_channels_first_kernel(const T* __restrict__ x, int64_t batch, int64_t rows, int64_t dim,
                                               T* __restrict__ sq, T* __restrict__ grad_x, const T* __restrict__ w,
                                               T alpha) {
  __shared__ T partial[kSlices][kWarp];
  const int64_t tiles_per_batch = (rows + kWarp - 1) / kWarp;
  for (int64_t tile = blockIdx.x; tile < batch * tiles_per_batch; tile += gridDim.x) {
    const int64_t b = tile / tiles_per_batch;
    const int64_t n = (tile % tiles_per_batch) * kWarp + threadIdx.x;
    const bool valid = n < rows;
    const int64_t base = b * dim * rows + n;
    T acc = 0;
    if (valid) {
      const T scale = grad_x != nullptr ? alpha * w[b * rows + n] : T(0);
      for (int64_t d = threadIdx.y; d < dim; d += kSlices) {
        const T v = x[base + d * rows];
        acc += v * v;
        if (grad_x != nullptr) grad_x[base + d * rows] += scale * v;
      }
    }
    partial[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && valid) {
      T total = 0;
      for (int s = 0; s < kSlices; ++s) total += partial[s][threadIdx.x];
      sq[b * rows + n] = total;
    }
    __syncthreads();  // partial is reused by the next tile
  }
}

template <typename T>
__global__ void scaled_l2_combine_kernel(T* __restrict__ sl, const T* __restrict__ xx, const T* __restrict__ cc,
                                         const T* __restrict__ s, int64_t rows, int64_t k) {
  const int64_t total = rows * k;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t r = i / k, j = i % k;
    sl[i] = s[j] * clamp_min_zero(xx[r] + cc[j] - T(2) * sl[i]);
  }
}

// One warp per row: gs = g * s and its row sum w.
template <typename T>
__global__ void scaled_l2_scale_grad_kernel(const T* __restrict__ g, const T* __restrict__ s, int64_t rows, int64_t k,
                                            T* __restrict__ gs, T* __restrict__ w) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = blockDim.x / kWarp;
  for (int64_t r = blockIdx.x * warps + threadIdx.x / kWarp; r < rows; r += gridDim.x * warps) {
    T acc = 0;
    for (int64_t j = lane; j < k; j += kWarp) {
      const T v = g[r * k + j] * s[j];
      gs[r * k + j] = v;
      acc += v;
    }
    acc = warp_sum(acc);
    if (lane == 0) w[r] = acc;
  }
}

// out[b, k] = sum_r m[b, r, k] * weight[b, r]. Block (32 columns, 32 row slices) per
// (column tile, batch); the slices are reduced in a fixed order, so the result is
// deterministic (no atomics).
constexpr int kRowSlices = 32;

template <typename T>
__global__ void col_sums_kernel(const T* __restrict__ m, const T* __restrict__ weight, int64_t rows, int64_t k,
                                T* __restrict__ out) {
  __shared__ T partial[kRowSlices][kWarp + 1];
  const int64_t b = blockIdx.y;
  const int64_t j = blockIdx.x * static_cast<int64_t>(kWarp) + threadIdx.x;
  T acc = 0;
  if (j < k) {
    const T* mb = m + b * rows * k + j;
    const T* wb = weight != nullptr ? weight + b * rows : nullptr;
    for (int64_t r = threadIdx.y; r < rows; r += kRowSlices) acc += mb[r * k] * (wb != nullptr ? wb[r] : T(1));
  }
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && j < k) {
    T total = 0;
    for (int s = 0; s < kRowSlices; ++s) total += partial[s][threadIdx.x];
    out[b * k + j] = total;
  }
}

// Sum of v over the block, returned to every thread. shared must hold kThreads / kWarp values.
template <typename T>
__device__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = 0;
  for (int i = 0; i < warps; ++i) total += shared[i];
  return total;
}

// One block per codeword k.
template <typename T>
__global__ void scaled_l2_param_grads_kernel(const T* __restrict__ gtx, const T* __restrict__ c,
                                             const T* __restrict__ cc, const T* __restrict__ s,
                                             const T* __restrict__ g1, const T* __restrict__ gxx, int64_t k,
                                             int64_t dim, T* __restrict__ grad_c, T* __restrict__ grad_s) {
  __shared__ T shared[kThreads / kWarp];
  for (int64_t j = blockIdx.x; j < k; j += gridDim.x) {
    const T two_s = T(2) * s[j], g1j = g1[j];
    T dot = 0;
    for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
      const T gv = gtx[j * dim + d], cv = c[j * dim + d];
      dot += gv * cv;
      grad_c[j * dim + d] = two_s * (g1j * cv - gv);
    }
    dot = block_sum(dot, shared);
    if (threadIdx.x == 0) grad_s[j] = gxx[j] + g1j * cc[j] - T(2) * dot;
  }
}

template <typename T>
__global__ void aggregate_subtract_codes_kernel(T* __restrict__ e, const T* __restrict__ asum, const T* __restrict__ c,
                                                int64_t batch, int64_t k, int64_t dim) {
  const int64_t total = batch * k * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t row = i / dim;  // b * k + j
    e[i] -= asum[row] * c[(row % k) * dim + i % dim];
  }
}

// One block per codeword k: gc[b, k] = ge[b, k].c[k] for every b, and
// grad_c[k] = -sum_b asum[b, k] ge[b, k].
template <typename T>
__global__ void aggregate_code_grads_kernel(const T* __restrict__ ge, const T* __restrict__ c,
                                            const T* __restrict__ asum, int64_t batch, int64_t k, int64_t dim,
                                            T* __restrict__ gc, T* __restrict__ grad_c) {
  __shared__ T shared[kThreads / kWarp];
  for (int64_t j = blockIdx.x; j < k; j += gridDim.x) {
    for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
      T acc = 0;
      for (int64_t b = 0; b < batch; ++b) acc -= asum[b * k + j] * ge[(b * k + j) * dim + d];
      grad_c[j * dim + d] = acc;
    }
    for (int64_t b = 0; b < batch; ++b) {
      T dot = 0;
      for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) dot += ge[(b * k + j) * dim + d] * c[j * dim + d];
      dot = block_sum(dot, shared);
      if (threadIdx.x == 0) gc[b * k + j] = dot;
    }
  }
}

template <typename T>
__global__ void sub_rows_kernel(T* __restrict__ m, const T* __restrict__ v, int64_t batch, int64_t rows, int64_t k) {
  const int64_t total = batch * rows * k;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    m[i] -= v[(i / (rows * k)) * k + i % k];
  }
}

}  // namespace

template <typename T>
void encoding_sq_norms_cuda(const T* x, int64_t batch, int64_t rows, int64_t dim, bool channels_first, T* sq, T* grad_x,
                            const T* w, T alpha) {
  if (batch * rows == 0) return;
  cudaStream_t stream = current_cuda_stream();
  if (channels_first) {
    const int64_t tiles = batch * ((rows + kWarp - 1) / kWarp);
    sq_norms_channels_first_kernel<T>
        <<<blocks_for(tiles, 1), dim3(kWarp, kSlices), 0, stream>>>(x, batch, rows, dim, sq, grad_x, w, alpha);
  } else {
    sq_norms_rows_kernel<T><<<blocks_for(batch * rows, kThreads / kWarp), kThreads, 0, stream>>>(x, batch * rows, dim,
                                                                                                 sq, grad_x, w, alpha);
  }
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void scaled_l2_combine_cuda(T* sl, const T* xx, const T* cc, const T* s, int64_t rows, int64_t k) {
  if (rows * k == 0) return;
  scaled_l2_combine_kernel<T>
      <<<blocks_for(rows * k, kThreads), kThreads, 0, current_cuda_stream()>>>(sl, xx, cc, s, rows, k);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void scaled_l2_scale_grad_cuda(const T* g, const T* s, int64_t rows, int64_t k, T* gs, T* w) {
  if (rows == 0) return;
  scaled_l2_scale_grad_kernel<T>
      <<<blocks_for(rows, kThreads / kWarp), kThreads, 0, current_cuda_stream()>>>(g, s, rows, k, gs, w);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void encoding_col_sums_cuda(const T* m, const T* weight, int64_t batch, int64_t rows, int64_t k, T* out) {
  if (batch * k == 0) return;
  if (batch > 65535) {
    throw std::runtime_error("encoding: batch size " + std::to_string(batch) + " exceeds the CUDA grid limit 65535");
  }
  const dim3 grid(static_cast<unsigned>((k + kWarp - 1) / kWarp), static_cast<unsigned>(batch));
  col_sums_kernel<T><<<grid, dim3(kWarp, kRowSlices), 0, current_cuda_stream()>>>(m, weight, rows, k, out);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void scaled_l2_param_grads_cuda(const T* gtx, const T* c, const T* cc, const T* s, const T* g1, const T* gxx, int64_t k,
                                int64_t dim, T* grad_c, T* grad_s) {
  if (k == 0) return;
  scaled_l2_param_grads_kernel<T>
      <<<blocks_for(k, 1), kThreads, 0, current_cuda_stream()>>>(gtx, c, cc, s, g1, gxx, k, dim, grad_c, grad_s);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void aggregate_subtract_codes_cuda(T* e, const T* asum, const T* c, int64_t batch, int64_t k, int64_t dim) {
  if (batch * k * dim == 0) return;
  aggregate_subtract_codes_kernel<T>
      <<<blocks_for(batch * k * dim, kThreads), kThreads, 0, current_cuda_stream()>>>(e, asum, c, batch, k, dim);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void aggregate_code_grads_cuda(const T* ge, const T* c, const T* asum, int64_t batch, int64_t k, int64_t dim, T* gc,
                               T* grad_c) {
  if (k == 0) return;
  aggregate_code_grads_kernel<T>
      <<<blocks_for(k, 1), kThreads, 0, current_cuda_stream()>>>(ge, c, asum, batch, k, dim, gc, grad_c);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void encoding_sub_rows_cuda(T* m, const T* v, int64_t batch, int64_t rows, int64_t k) {
  if (batch * rows * k == 0) return;
  sub_rows_kernel<T>
      <<<blocks_for(batch * rows * k, kThreads), kThreads, 0, current_cuda_stream()>>>(m, v, batch, rows, k);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

SEGTOOLS_ENCODING_INSTANTIATE(cuda)

}  // namespace segtools
