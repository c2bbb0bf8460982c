// Dispatcher of conv_rectify (formula in csrc/rectify.h).
#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include "rectify.h"

#include <ATen/Dispatch.h>

#include "cuda/rectify_cuda.h"
#include "dispatch.h"

namespace segtools {

at::Tensor conv_rectify(const at::Tensor& output, std::vector<int64_t> input_size, std::vector<int64_t> kernel_size,
                        std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation,
                        bool average) {
  constexpr const char* op = "conv_rectify";
  check_shape(op, "output", output, {{"N"}, {"C"}, {"H_out"}, {"W_out"}});
  check_dtype_device(op, {{"output", output}});
  for (const auto* pair : {&input_size, &kernel_size, &stride, &padding, &dilation}) {
    TORCH_CHECK(pair->size() == 2, op, ": sizes must be pairs (h, w)");
  }
  TORCH_CHECK(kernel_size[0] > 0 && kernel_size[1] > 0 && stride[0] > 0 && stride[1] > 0 && dilation[0] > 0 &&
                  dilation[1] > 0 && padding[0] >= 0 && padding[1] >= 0,
              op, ": kernel_size, stride and dilation must be positive and padding non-negative");
  const RectifyGeometry g{input_size[0], input_size[1], kernel_size[0], kernel_size[1], stride[0], stride[1],
                          padding[0],    padding[1],    dilation[0],    dilation[1],    average};
  const at::Tensor src = output.contiguous();
  at::Tensor result = empty_like_dense(src);
  if (src.numel() == 0) return result;
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), op, [&] {
    const scalar_t* in = src.data_ptr<scalar_t>();
    scalar_t* out = result.data_ptr<scalar_t>();
    const int64_t planes = src.size(0) * src.size(1), out_h = src.size(2), out_w = src.size(3);
    dispatch_device(
        op, src, [&] { conv_rectify_cpu<scalar_t>(in, out, planes, out_h, out_w, g); },
        [&] { conv_rectify_cuda<scalar_t>(in, out, planes, out_h, out_w, g); });
  });
  return result;
}

}  // namespace segtools
