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

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace segtools {

// output: (N, C, H_out, W_out) convolution output; input_size {H, W} of the un-padded
// convolution input; kernel_size, stride, padding, dilation as {h, w}.
// Returns a new tensor: output rescaled by factor(oh, ow). The dispatcher is in
// csrc/rectify.cpp, the kernels in csrc/cuda/rectify_cuda.h.
at::Tensor conv_rectify(const at::Tensor& output, std::vector<int64_t> input_size, std::vector<int64_t> kernel_size,
                        std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation,
                        bool average);

}  // namespace segtools
