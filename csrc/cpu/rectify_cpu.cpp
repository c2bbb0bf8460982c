// CPU kernel of conv_rectify (see csrc/rectify.h for the formula).
#include <ATen/Parallel.h>

#include <algorithm>

#include "rectify.h"

namespace segtools {
namespace {

// Number of taps i < kernel with 0 <= start + i * dilation < size.
inline int64_t valid_taps(int64_t start, int64_t kernel, int64_t dilation, int64_t size) {
  int64_t count = 0;
  for (int64_t i = 0; i < kernel; ++i) {
    const int64_t pos = start + i * dilation;
    count += (pos >= 0 && pos < size);
  }
  return count;
}

template <typename scalar_t>
void rectify_kernel(const scalar_t* src, scalar_t* dst, int64_t planes, int64_t out_h, int64_t out_w,
                    const RectifyGeometry& g) {
  // The factor depends only on the position: compute the plane once, apply it to every plane.
  std::vector<scalar_t> factor(out_h * out_w);
  const double total = static_cast<double>(g.kernel_h * g.kernel_w);
  for (int64_t oh = 0; oh < out_h; ++oh) {
    const int64_t rows = valid_taps(oh * g.stride_h - g.pad_h, g.kernel_h, g.dilation_h, g.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int64_t valid = rows * valid_taps(ow * g.stride_w - g.pad_w, g.kernel_w, g.dilation_w, g.in_w);
      const double f = valid == 0 ? 1.0 : (g.average ? 1.0 : total) / static_cast<double>(valid);
      factor[oh * out_w + ow] = static_cast<scalar_t>(f);
    }
  }
  const int64_t plane = out_h * out_w;
  const scalar_t* f = factor.data();
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(plane, 1));  // ~32k elements per task
  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const scalar_t* in = src + p * plane;
      scalar_t* out = dst + p * plane;
#pragma omp simd
      for (int64_t i = 0; i < plane; ++i) out[i] = in[i] * f[i];
    }
  });
}

}  // namespace

void conv_rectify_cpu(const at::Tensor& output, at::Tensor& result, const RectifyGeometry& g) {
  AT_DISPATCH_FLOATING_TYPES(output.scalar_type(), "conv_rectify_cpu", [&] {
    rectify_kernel<scalar_t>(output.data_ptr<scalar_t>(), result.data_ptr<scalar_t>(),
                             output.size(0) * output.size(1), output.size(2), output.size(3), g);
  });
}

}  // namespace segtools
