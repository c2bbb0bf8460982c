// Host launchers of the rectify CUDA kernels. Kept free of ATen so that the .cu
// including it compiles in seconds; csrc/rectify.h includes it under WITH_CUDA.
#pragma once

#include <cstdint>

namespace segtools {

struct RectifyGeometry {
  int64_t in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  bool average;
};

#ifdef WITH_CUDA
template <typename scalar_t>
void conv_rectify_cuda(const scalar_t* output, scalar_t* result, int64_t planes, int64_t out_h, int64_t out_w,
                       const RectifyGeometry& g, int device_index);
#endif

}  // namespace segtools
