// The single Python module of segtools: a table of contents of the ops.
// Each op's declarations live in csrc/<op>.h, its dispatcher in csrc/<op>.cpp (device
// switch and checks from csrc/dispatch.h), the kernels in csrc/cpu/<op>_cpu.cpp and
// csrc/cuda/<op>_cuda.cu.
// torch/csrc/utils/pybind.h, not torch/extension.h: it brings pybind11 (with pybind11/stl.h)
// and the at::Tensor caster without the whole C++ frontend, a third of the compile time.
#include <torch/csrc/utils/pybind.h>

#include "dispatch.h"
#include "encoding.h"
#include "rectify.h"
#include "sync_bn.h"
#include "upsampled_cross_entropy.h"

namespace {
bool with_cuda() { return segtools::kWithCuda; }
}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "segtools compiled ops: Encoding, SyncBN, rectified convolution and the upsampled cross-entropy";
  m.def("with_cuda", &with_cuda, "Whether the CUDA kernels were compiled in");

  // Encoding (csrc/encoding.h)
  m.def("scaled_l2_forward", &segtools::scaled_l2_forward, "SL = S * ||X - C||^2", py::arg("X"), py::arg("C"),
        py::arg("S"));
  m.def("scaled_l2_backward", &segtools::scaled_l2_backward, "grads of scaled_l2 for X, C, S", py::arg("grad_SL"),
        py::arg("X"), py::arg("C"), py::arg("S"));
  m.def("aggregate_forward", &segtools::aggregate_forward, "E = sum_n A * (X - C)", py::arg("A"), py::arg("X"),
        py::arg("C"));
  m.def("aggregate_backward", &segtools::aggregate_backward, "grads of aggregate for A, X, C", py::arg("grad_E"),
        py::arg("A"), py::arg("X"), py::arg("C"));

  // SyncBN (csrc/sync_bn.h)
  m.def("sync_bn_stats", &segtools::sync_bn_stats, "per-channel mean and M2 of (N, C, L)", py::arg("x"));
  m.def("sync_bn_forward", &segtools::sync_bn_forward, "fused normalise + affine + activation", py::arg("x"),
        py::arg("mean"), py::arg("invstd"), py::arg("weight"), py::arg("bias"), py::arg("activation"),
        py::arg("slope"), py::arg("inplace"));
  m.def("sync_bn_backward_reduce", &segtools::sync_bn_backward_reduce, "per-channel sum(dz) and sum(dz * xhat)",
        py::arg("grad_y"), py::arg("saved"), py::arg("mean"), py::arg("invstd"), py::arg("weight"),
        py::arg("bias"), py::arg("activation"), py::arg("slope"), py::arg("saved_is_output"));
  m.def("sync_bn_backward_elemt", &segtools::sync_bn_backward_elemt, "element-wise input gradient",
        py::arg("grad_y"), py::arg("saved"), py::arg("mean"), py::arg("invstd"), py::arg("weight"),
        py::arg("bias"), py::arg("mean_dz"), py::arg("mean_dz_xhat"), py::arg("activation"), py::arg("slope"),
        py::arg("saved_is_output"));

  // Rectified convolution (csrc/rectify.h)
  m.def("conv_rectify", &segtools::conv_rectify, "rescale conv output by its count of valid taps",
        py::arg("output"), py::arg("input_size"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("average"));

  // Cross-entropy of bilinearly upsampled logits (csrc/upsampled_cross_entropy.h)
  m.def("upsampled_cross_entropy_forward", &segtools::upsampled_cross_entropy_forward,
        "per-pixel loss, log-sum-exp and argmax of the upsampled logits", py::arg("logits"), py::arg("target"),
        py::arg("class_weight"), py::arg("align_corners"), py::arg("ignore_index"));
  m.def("upsampled_cross_entropy_backward", &segtools::upsampled_cross_entropy_backward,
        "gradient of the low-resolution logits", py::arg("grad_loss"), py::arg("logits"), py::arg("target"),
        py::arg("class_weight"), py::arg("lse"), py::arg("align_corners"), py::arg("ignore_index"));
}
