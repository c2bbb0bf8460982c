// Rectified convolution (ResNeSt's RFConv2d): rescale every output position of a
// zero-padded convolution by how many of its kernel taps fall inside the
// un-padded input, so border outputs are not biased towards zero.
//   factor(oh, ow) = (kh * kw) / valid(oh, ow)   (default mode)
//   factor(oh, ow) = 1 / valid(oh, ow)           (average mode)
// valid = rows(oh) * cols(ow), rows(oh) = #{i < kh : 0 <= oh*sh - ph + i*dh < H}; a
// position with no valid tap (only possible with padding >= the dilated kernel)
// is left unscaled (factor 1).
// The backward is the same rescaling applied to the output gradient.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "cuda/rectify_cuda.h"

namespace segtools {

void conv_rectify_cpu(const at::Tensor& output, at::Tensor& result, const RectifyGeometry& g);

// output: (N, C, H_out, W_out) convolution output; input_size {H, W} of the un-padded
// convolution input; kernel_size, stride, padding, dilation as {h, w}.
// Returns a new tensor: output rescaled by factor(oh, ow).
inline at::Tensor conv_rectify(const at::Tensor& output, std::vector<int64_t> input_size,
                               std::vector<int64_t> kernel_size, std::vector<int64_t> stride,
                               std::vector<int64_t> padding, std::vector<int64_t> dilation, bool average) {
  TORCH_CHECK(output.dim() == 4, "conv_rectify: output must be (N, C, H_out, W_out), got ", output.sizes());
  TORCH_CHECK(output.scalar_type() == at::kFloat || output.scalar_type() == at::kDouble,
              "conv_rectify: output must be float32 or float64, got ", output.scalar_type());
  for (const auto* pair : {&input_size, &kernel_size, &stride, &padding, &dilation}) {
    TORCH_CHECK(pair->size() == 2, "conv_rectify: sizes must be pairs (h, w)");
  }
  TORCH_CHECK(kernel_size[0] > 0 && kernel_size[1] > 0 && stride[0] > 0 && stride[1] > 0 && dilation[0] > 0 &&
                  dilation[1] > 0 && padding[0] >= 0 && padding[1] >= 0,
              "conv_rectify: kernel_size, stride and dilation must be positive and padding non-negative");
  const RectifyGeometry g{input_size[0], input_size[1], kernel_size[0], kernel_size[1], stride[0], stride[1],
                          padding[0],    padding[1],    dilation[0],    dilation[1],    average};
  const at::Tensor src = output.contiguous();
  at::Tensor result = at::empty_like(src);
  if (src.numel() == 0) return result;
  if (src.is_cuda()) {
#ifdef WITH_CUDA
    AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "conv_rectify_cuda", [&] {
      conv_rectify_cuda<scalar_t>(src.data_ptr<scalar_t>(), result.data_ptr<scalar_t>(), src.size(0) * src.size(1),
                                  src.size(2), src.size(3), g, src.get_device());
    });
#else
    TORCH_CHECK(false,
                "conv_rectify: segtools._ext was built without CUDA; rebuild it with "
                "`FORCE_CUDA=1 pip install --no-build-isolation -e .` on a machine with the CUDA toolkit");
#endif
  } else {
    TORCH_CHECK(src.is_cpu(), "conv_rectify: unsupported device ", src.device());
    conv_rectify_cpu(src, result, g);
  }
  return result;
}

}  // namespace segtools
