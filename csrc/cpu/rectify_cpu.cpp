// CPU kernel of conv_rectify (see csrc/rectify.h for the formula).
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "cuda/rectify_cuda.h"

namespace segtools {

template <typename scalar_t>
void conv_rectify_cpu(const scalar_t* output, scalar_t* result, int64_t planes, int64_t out_h, int64_t out_w,
                      const RectifyGeometry& g) {
  // The factor depends only on the position: compute the plane once, apply it to every plane.
  std::vector<scalar_t> factor(out_h * out_w);
  for (int64_t oh = 0; oh < out_h; ++oh) {
    for (int64_t ow = 0; ow < out_w; ++ow) factor[oh * out_w + ow] = static_cast<scalar_t>(rectify_factor(g, oh, ow));
  }
  const int64_t plane = out_h * out_w;
  const scalar_t* f = factor.data();
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(plane, 1));  // ~32k elements per task
  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const scalar_t* in = output + p * plane;
      scalar_t* out = result + p * plane;
#pragma omp simd
      for (int64_t i = 0; i < plane; ++i) out[i] = in[i] * f[i];
    }
  });
}

template void conv_rectify_cpu<float>(const float*, float*, int64_t, int64_t, int64_t, const RectifyGeometry&);
template void conv_rectify_cpu<double>(const double*, double*, int64_t, int64_t, int64_t, const RectifyGeometry&);

}  // namespace segtools
