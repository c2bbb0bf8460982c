// The rectify kernels, CPU and CUDA, and the geometry and factor they share. Kept free of
// ATen so that the .cu including it compiles in seconds; csrc/rectify.cpp and
// csrc/cpu/rectify_cpu.cpp include it too. The CUDA launcher is declared in every build and
// defined only in CUDA builds (see csrc/dispatch.h).
#pragma once

#include <c10/macros/Macros.h>

#include <cstdint>

namespace segtools {

struct RectifyGeometry {
  int64_t in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  bool average;
};

// Number of taps i < kernel with 0 <= start + i * dilation < size.
C10_HOST_DEVICE inline int64_t rectify_valid_taps(int64_t start, int64_t kernel, int64_t dilation, int64_t size) {
  int64_t count = 0;
  for (int64_t i = 0; i < kernel; ++i) {
    const int64_t pos = start + i * dilation;
    count += (pos >= 0 && pos < size);
  }
  return count;
}

// factor(oh, ow) of csrc/rectify.h: (kh * kw, or 1 in average mode) / valid(oh, ow), and 1
// where no tap is valid.
C10_HOST_DEVICE inline double rectify_factor(const RectifyGeometry& g, int64_t oh, int64_t ow) {
  const int64_t valid = rectify_valid_taps(oh * g.stride_h - g.pad_h, g.kernel_h, g.dilation_h, g.in_h) *
                        rectify_valid_taps(ow * g.stride_w - g.pad_w, g.kernel_w, g.dilation_w, g.in_w);
  const double taps = static_cast<double>(g.kernel_h * g.kernel_w);
  return valid == 0 ? 1.0 : (g.average ? 1.0 : taps) / static_cast<double>(valid);
}

// result = output * factor for contiguous (planes, out_h, out_w) arrays: the CPU kernel
// (csrc/cpu/rectify_cpu.cpp) and the CUDA launcher (csrc/cuda/rectify_cuda.cu), both
// instantiated for float and double.
template <typename scalar_t>
void conv_rectify_cpu(const scalar_t* output, scalar_t* result, int64_t planes, int64_t out_h, int64_t out_w,
                      const RectifyGeometry& g);
template <typename scalar_t>
void conv_rectify_cuda(const scalar_t* output, scalar_t* result, int64_t planes, int64_t out_h, int64_t out_w,
                       const RectifyGeometry& g);

}  // namespace segtools
