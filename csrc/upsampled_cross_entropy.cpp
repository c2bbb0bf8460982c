// Dispatcher of the fused upsampled cross-entropy (formulas in csrc/upsampled_cross_entropy.h).
#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include "upsampled_cross_entropy.h"

#include <ATen/Dispatch.h>

#include "cpu/upsampled_cross_entropy_cpu.h"
#include "dispatch.h"

namespace segtools {
namespace {

// Checks the arguments shared by both passes; returns the geometry.
UpsampledCrossEntropyGeometry check_args(const char* op, const at::Tensor& logits, const at::Tensor& target,
                                         const std::optional<at::Tensor>& class_weight, bool align_corners,
                                         int64_t ignore_index) {
  check_shape(op, "logits", logits, {{"N"}, {"K"}, {"h"}, {"w"}});
  check_shape(op, "target", target, {{"N", logits.size(0)}, {"H"}, {"W"}});
  check_dtype_device(op, {{"logits", logits}});
  TORCH_CHECK(target.scalar_type() == at::kLong, op, ": target must be int64, got ", target.scalar_type());
  TORCH_CHECK(target.device() == logits.device(), op, ": target must be on logits' device ", logits.device(), ", got ",
              target.device());
  if (class_weight.has_value()) {
    check_shape(op, "class_weight", *class_weight, {{"K", logits.size(1)}});
    check_dtype_device(op, {{"logits", logits}, {"class_weight", *class_weight}});
  }
  TORCH_CHECK(logits.size(1) > 0 && logits.size(2) > 0 && logits.size(3) > 0, op,
              ": logits must have at least one class and one pixel, got shape ", logits.sizes());
  return {logits.size(0), logits.size(1), logits.size(2), logits.size(3),
          target.size(1), target.size(2), align_corners,  ignore_index};
}

// The kernels read the logits channels-last: (N, h, w, K) contiguous.
at::Tensor channels_last(const at::Tensor& logits) { return logits.permute({0, 2, 3, 1}).contiguous(); }

template <typename T>
const T* optional_data(const std::optional<at::Tensor>& t, at::Tensor& holder) {
  if (!t.has_value()) return nullptr;
  holder = t->contiguous();
  return holder.data_ptr<T>();
}

void no_cuda_kernel(const char* op) {
  TORCH_CHECK(false, op,
              ": has no CUDA kernel; segtools.ops.upsampled_cross_entropy uses its plain-PyTorch form on CUDA");
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> upsampled_cross_entropy_forward(
    const at::Tensor& logits, const at::Tensor& target, const std::optional<at::Tensor>& class_weight,
    bool align_corners, int64_t ignore_index) {
  constexpr const char* op = "upsampled_cross_entropy_forward";
  const UpsampledCrossEntropyGeometry g = check_args(op, logits, target, class_weight, align_corners, ignore_index);
  const at::Tensor x = channels_last(logits);
  const at::Tensor labels = target.contiguous();
  at::Tensor loss = logits.new_empty(target.sizes());
  at::Tensor lse = logits.new_empty(target.sizes());
  at::Tensor pred = target.new_empty(target.sizes());
  if (target.numel() == 0) return {loss, lse, pred};
  std::optional<int64_t> bad_label;
  at::Tensor weight_holder;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    const scalar_t* weight = optional_data<scalar_t>(class_weight, weight_holder);
    dispatch_device(
        op, x,
        [&] {
          bad_label = upsampled_cross_entropy_forward_cpu<scalar_t>(x.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(),
                                                                    weight, g, loss.data_ptr<scalar_t>(),
                                                                    lse.data_ptr<scalar_t>(), pred.data_ptr<int64_t>());
        },
        [&] { no_cuda_kernel(op); });
  });
  TORCH_CHECK(!bad_label.has_value(), op, ": target holds the label ", bad_label.value_or(0), ", outside the ",
              g.classes, " classes [0, ", g.classes - 1, "] and not the ignore_index ", ignore_index);
  return {loss, lse, pred};
}

at::Tensor upsampled_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                            const at::Tensor& target, const std::optional<at::Tensor>& class_weight,
                                            const at::Tensor& lse, bool align_corners, int64_t ignore_index) {
  constexpr const char* op = "upsampled_cross_entropy_backward";
  const UpsampledCrossEntropyGeometry g = check_args(op, logits, target, class_weight, align_corners, ignore_index);
  check_shape(op, "grad_loss", grad_loss, {{"N", g.batch}, {"H", g.out_h}, {"W", g.out_w}});
  check_shape(op, "lse", lse, {{"N", g.batch}, {"H", g.out_h}, {"W", g.out_w}});
  check_dtype_device(op, {{"logits", logits}, {"grad_loss", grad_loss}, {"lse", lse}});
  const at::Tensor x = channels_last(logits);
  const at::Tensor labels = target.contiguous(), grad = grad_loss.contiguous(), saved_lse = lse.contiguous();
  at::Tensor grad_x = x.new_empty(x.sizes());
  if (target.numel() == 0) return grad_x.zero_().permute({0, 3, 1, 2}).contiguous();
  at::Tensor weight_holder;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    const scalar_t* weight = optional_data<scalar_t>(class_weight, weight_holder);
    dispatch_device(
        op, x,
        [&] {
          upsampled_cross_entropy_backward_cpu<scalar_t>(
              grad.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(), weight,
              saved_lse.data_ptr<scalar_t>(), g, grad_x.data_ptr<scalar_t>());
        },
        [&] { no_cuda_kernel(op); });
  });
  return grad_x.permute({0, 3, 1, 2}).contiguous();
}

}  // namespace segtools
