// CUDA kernel of conv_rectify (see csrc/rectify.h for the formula).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "launch.h"
#include "rectify_cuda.h"

namespace segtools {
namespace {

template <typename scalar_t>
__global__ void rectify_kernel(const scalar_t* __restrict__ src, scalar_t* __restrict__ dst, int64_t total_elems,
                               int64_t out_h, int64_t out_w, RectifyGeometry g) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total_elems;
       idx += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t ow = idx % out_w;
    const int64_t oh = (idx / out_w) % out_h;
    dst[idx] = static_cast<scalar_t>(src[idx] * rectify_factor(g, oh, ow));
  }
}

}  // namespace

template <typename scalar_t>
void conv_rectify_cuda(const scalar_t* output, scalar_t* result, int64_t planes, int64_t out_h, int64_t out_w,
                       const RectifyGeometry& g) {
  const int64_t total = planes * out_h * out_w;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 65535);
  rectify_kernel<scalar_t>
      <<<static_cast<unsigned>(blocks), kThreads, 0, current_cuda_stream()>>>(output, result, total, out_h, out_w, g);
  SEGTOOLS_KERNEL_LAUNCH_CHECK();
}

template void conv_rectify_cuda<float>(const float*, float*, int64_t, int64_t, int64_t, const RectifyGeometry&);
template void conv_rectify_cuda<double>(const double*, double*, int64_t, int64_t, int64_t, const RectifyGeometry&);

}  // namespace segtools
