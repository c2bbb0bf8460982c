// The CPU kernels of the fused upsampled cross-entropy (csrc/upsampled_cross_entropy.h) and the
// geometry they share with its dispatcher. Kept free of ATen, like the CUDA headers, so the
// kernel file compiles in seconds.
#pragma once

#include <cstdint>
#include <optional>

namespace segtools {

// Sizes of one call: logits (batch, in_h, in_w, classes) channels-last, labels (batch, out_h, out_w).
struct UpsampledCrossEntropyGeometry {
  int64_t batch, classes, in_h, in_w, out_h, out_w;
  bool align_corners;
  int64_t ignore_index;
};

// Forward. logits: (N, h, w, K) contiguous; target: (N, H, W); class_weight: (K,) or nullptr.
// Writes loss, lse (log-sum-exp of the upsampled logits) and pred (their first argmax), each
// (N, H, W). Returns a label of target that is neither in [0, K) nor ignore_index (its loss is
// left 0), if there is one.
template <typename scalar_t>
std::optional<int64_t> upsampled_cross_entropy_forward_cpu(const scalar_t* logits, const int64_t* target,
                                                           const scalar_t* class_weight,
                                                           const UpsampledCrossEntropyGeometry& g, scalar_t* loss,
                                                           scalar_t* lse, int64_t* pred);

// Backward. grad_loss and lse: (N, H, W); grad_logits: (N, h, w, K), written whole. Labels
// must have passed the forward's check.
template <typename scalar_t>
void upsampled_cross_entropy_backward_cpu(const scalar_t* grad_loss, const scalar_t* logits, const int64_t* target,
                                          const scalar_t* class_weight, const scalar_t* lse,
                                          const UpsampledCrossEntropyGeometry& g, scalar_t* grad_logits);

}  // namespace segtools
