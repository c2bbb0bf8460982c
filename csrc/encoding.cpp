// Dispatchers of the Encoding ops (math in csrc/encoding.h): argument checks, the GEMMs
// through ATen, and the fix-up kernels of csrc/cuda/encoding_cuda.h on the device of X.
#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include "encoding.h"

#include <ATen/Dispatch.h>

#include <utility>

#include "cuda/encoding_cuda.h"
#include "dispatch.h"

namespace segtools {
namespace {

// The fix-up kernels of one device, so that one body serves both devices.
template <typename T>
struct Kernels {
  decltype(&encoding_sq_norms_cpu<T>) sq_norms;
  decltype(&scaled_l2_combine_cpu<T>) scaled_l2_combine;
  decltype(&scaled_l2_scale_grad_cpu<T>) scaled_l2_scale_grad;
  decltype(&encoding_col_sums_cpu<T>) col_sums;
  decltype(&scaled_l2_param_grads_cpu<T>) scaled_l2_param_grads;
  decltype(&aggregate_subtract_codes_cpu<T>) aggregate_subtract_codes;
  decltype(&aggregate_code_grads_cpu<T>) aggregate_code_grads;
  decltype(&encoding_sub_rows_cpu<T>) sub_rows;
};

#define SEGTOOLS_ENCODING_TABLE(DEV)                                                                      \
  Kernels<T> {                                                                                            \
    &encoding_sq_norms_##DEV<T>, &scaled_l2_combine_##DEV<T>, &scaled_l2_scale_grad_##DEV<T>,             \
        &encoding_col_sums_##DEV<T>, &scaled_l2_param_grads_##DEV<T>, &aggregate_subtract_codes_##DEV<T>, \
        &aggregate_code_grads_##DEV<T>, &encoding_sub_rows_##DEV<T>                                       \
  }

// Runs body(kernels) with the kernels of x's device (dispatch_device: that device is current).
template <typename T, typename Body>
void with_kernels(const char* op, const at::Tensor& x, Body&& body) {
  dispatch_device(op, x, [&] { body(SEGTOOLS_ENCODING_TABLE(cpu)); }, [&] { body(SEGTOOLS_ENCODING_TABLE(cuda)); });
}

#undef SEGTOOLS_ENCODING_TABLE

// X (B,N,D), C (K,D), S (K), and grad_SL (B,N,K) when given, all of X's dtype and device.
void check_scaled_l2_args(const char* op, const at::Tensor& X, const at::Tensor& C, const at::Tensor& S,
                          const at::Tensor* grad_SL = nullptr) {
  check_shape(op, "X", X, {{"B"}, {"N"}, {"D"}});
  check_shape(op, "C", C, {{"K"}, {"D", X.size(2)}});
  check_shape(op, "S", S, {{"K", C.size(0)}});
  if (grad_SL != nullptr) check_shape(op, "grad_SL", *grad_SL, {{"B", X.size(0)}, {"N", X.size(1)}, {"K", C.size(0)}});
  check_dtype_device(op, {{"X", X}, {"C", C}, {"S", S}});
  if (grad_SL != nullptr) check_dtype_device(op, {{"X", X}, {"grad_SL", *grad_SL}});
}

// A (B,N,K), X (B,N,D), C (K,D), and grad_E (B,K,D) when given, all of A's dtype and device.
void check_aggregate_args(const char* op, const at::Tensor& A, const at::Tensor& X, const at::Tensor& C,
                          const at::Tensor* grad_E = nullptr) {
  check_shape(op, "A", A, {{"B"}, {"N"}, {"K"}});
  check_shape(op, "X", X, {{"B", A.size(0)}, {"N", A.size(1)}, {"D"}});
  check_shape(op, "C", C, {{"K", A.size(2)}, {"D", X.size(2)}});
  if (grad_E != nullptr) check_shape(op, "grad_E", *grad_E, {{"B", A.size(0)}, {"K", C.size(0)}, {"D", C.size(1)}});
  check_dtype_device(op, {{"A", A}, {"X", X}, {"C", C}});
  if (grad_E != nullptr) check_dtype_device(op, {{"A", A}, {"grad_E", *grad_E}});
}

// {x, channels_first}: X as used by the kernels, contiguous (B,N,D), or the (B,N,D)
// transpose of a contiguous (B,D,N) tensor (channels_first). Anything else is copied to
// contiguous.
std::pair<at::Tensor, bool> canonical_x(const at::Tensor& X) {
  const bool channels_first = !X.is_contiguous() && X.transpose(1, 2).is_contiguous();
  return {channels_first ? X : X.contiguous(), channels_first};
}

// An uninitialised (B,N,D) tensor in the layout of X. empty_strided rather than a transposed
// view: autograd sums the two gradients of X in place only into a tensor that is not a view.
at::Tensor empty_in_layout(const at::Tensor& x, bool channels_first) {
  if (!channels_first) return x.new_empty(x.sizes());
  const int64_t N = x.size(1), D = x.size(2);
  return x.new_empty_strided(x.sizes(), {N * D, 1, N});
}

// out[b] = beta * out[b] + alpha * m1[b] @ m2[b] for every batch b, where a 2-D m2 is shared
// by all batches. When nothing needs per-batch strides the batch is folded into the rows
// (one large GEMM); otherwise each batch is one GEMM on (possibly transposed) views, which
// BLAS takes without copies.
void batched_addmm_(const at::Tensor& out, const at::Tensor& m1, const at::Tensor& m2, double beta, double alpha) {
  if (m2.dim() == 2 && m1.is_contiguous() && out.is_contiguous()) {
    out.view({-1, out.size(2)}).addmm_(m1.view({-1, m1.size(2)}), m2, beta, alpha);
    return;
  }
  for (int64_t b = 0; b < out.size(0); ++b) {
    out.select(0, b).addmm_(m1.select(0, b), m2.dim() == 2 ? m2 : m2.select(0, b), beta, alpha);
  }
}

// out (K,D) = sum_b g[b]^T @ x[b] for g (B,N,K), x (B,N,D): one GEMM when the batch can be
// folded into the contraction, else accumulated batch by batch.
void batch_sum_tmm_(const at::Tensor& out, const at::Tensor& g, const at::Tensor& x) {
  if (g.is_contiguous() && x.is_contiguous()) {
    out.addmm_(g.view({-1, g.size(2)}).t(), x.view({-1, x.size(2)}), 0.0, 1.0);
    return;
  }
  for (int64_t b = 0; b < x.size(0); ++b) {
    out.addmm_(g.select(0, b).t(), x.select(0, b), b == 0 ? 0.0 : 1.0, 1.0);
  }
}

}  // namespace

at::Tensor scaled_l2_forward(const at::Tensor& X, const at::Tensor& C, const at::Tensor& S) {
  constexpr const char* op = "scaled_l2_forward";
  check_scaled_l2_args(op, X, C, S);
  const auto [x, cf] = canonical_x(X);
  const at::Tensor c = C.contiguous(), s = S.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor sl = x.new_empty({B, N, K});
  if (sl.numel() == 0) return sl;
  batched_addmm_(sl, x, c.t(), 0.0, 1.0);  // sl = x.c
  at::Tensor xx = x.new_empty({B, N}), cc = x.new_empty({K});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    with_kernels<scalar_t>(op, x, [&](const Kernels<scalar_t>& k) {
      k.sq_norms(x.data_ptr<scalar_t>(), B, N, D, cf, xx.data_ptr<scalar_t>(), nullptr, nullptr, 0);
      k.sq_norms(c.data_ptr<scalar_t>(), 1, K, D, false, cc.data_ptr<scalar_t>(), nullptr, nullptr, 0);
      k.scaled_l2_combine(sl.data_ptr<scalar_t>(), xx.data_ptr<scalar_t>(), cc.data_ptr<scalar_t>(),
                          s.data_ptr<scalar_t>(), B * N, K);
    });
  });
  return sl;
}

std::vector<at::Tensor> scaled_l2_backward(const at::Tensor& grad_SL, const at::Tensor& X, const at::Tensor& C,
                                           const at::Tensor& S) {
  constexpr const char* op = "scaled_l2_backward";
  check_scaled_l2_args(op, X, C, S, &grad_SL);
  const auto [x, cf] = canonical_x(X);
  const at::Tensor g = grad_SL.contiguous(), c = C.contiguous(), s = S.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor grad_x = empty_in_layout(x, cf);
  at::Tensor grad_c = x.new_zeros({K, D}), grad_s = x.new_zeros({K});
  if (B * N == 0 || K == 0) return {grad_x.zero_(), grad_c, grad_s};
  at::Tensor gs = x.new_empty({B, N, K}), w = x.new_empty({B, N});
  at::Tensor xx = x.new_empty({B, N}), cc = x.new_empty({K});
  at::Tensor g1 = x.new_empty({K}), gxx = x.new_empty({K});
  at::Tensor gtx = x.new_empty({K, D});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    with_kernels<scalar_t>(op, x, [&](const Kernels<scalar_t>& k) {
      k.scaled_l2_scale_grad(g.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), B * N, K, gs.data_ptr<scalar_t>(),
                             w.data_ptr<scalar_t>());
      batched_addmm_(grad_x, gs, c, 0.0, -2.0);  // grad_x = -2 Gs C
      batch_sum_tmm_(gtx, g, x);                 // GtX = sum_b G[b]^T X[b]
      // grad_x += 2 w x, and ||x||^2 in the same pass over X.
      k.sq_norms(x.data_ptr<scalar_t>(), B, N, D, cf, xx.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
                 w.data_ptr<scalar_t>(), scalar_t(2));
      k.sq_norms(c.data_ptr<scalar_t>(), 1, K, D, false, cc.data_ptr<scalar_t>(), nullptr, nullptr, 0);
      k.col_sums(g.data_ptr<scalar_t>(), nullptr, 1, B * N, K, g1.data_ptr<scalar_t>());
      k.col_sums(g.data_ptr<scalar_t>(), xx.data_ptr<scalar_t>(), 1, B * N, K, gxx.data_ptr<scalar_t>());
      k.scaled_l2_param_grads(gtx.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), cc.data_ptr<scalar_t>(),
                              s.data_ptr<scalar_t>(), g1.data_ptr<scalar_t>(), gxx.data_ptr<scalar_t>(), K, D,
                              grad_c.data_ptr<scalar_t>(), grad_s.data_ptr<scalar_t>());
    });
  });
  return {grad_x, grad_c, grad_s};
}

at::Tensor aggregate_forward(const at::Tensor& A, const at::Tensor& X, const at::Tensor& C) {
  constexpr const char* op = "aggregate_forward";
  check_aggregate_args(op, A, X, C);
  const auto [x, cf] = canonical_x(X);
  const at::Tensor a = A.contiguous(), c = C.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor e = x.new_empty({B, K, D});
  if (e.numel() == 0) return e;
  if (N == 0) return e.zero_();
  batched_addmm_(e, a.transpose(1, 2), x, 0.0, 1.0);  // e = A^T X
  at::Tensor asum = x.new_empty({B, K});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    with_kernels<scalar_t>(op, x, [&](const Kernels<scalar_t>& k) {
      k.col_sums(a.data_ptr<scalar_t>(), nullptr, B, N, K, asum.data_ptr<scalar_t>());
      k.aggregate_subtract_codes(e.data_ptr<scalar_t>(), asum.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), B, K, D);
    });
  });
  return e;
}

std::vector<at::Tensor> aggregate_backward(const at::Tensor& grad_E, const at::Tensor& A, const at::Tensor& X,
                                           const at::Tensor& C) {
  constexpr const char* op = "aggregate_backward";
  check_aggregate_args(op, A, X, C, &grad_E);
  const auto [x, cf] = canonical_x(X);
  const at::Tensor ge = grad_E.contiguous(), a = A.contiguous(), c = C.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor grad_a = x.new_empty({B, N, K});
  at::Tensor grad_x = empty_in_layout(x, cf);
  at::Tensor grad_c = x.new_zeros({K, D});
  if (B * N == 0 || K == 0) return {grad_a, grad_x.zero_(), grad_c};
  batched_addmm_(grad_x, a, ge, 0.0, 1.0);                  // grad_x = A GE
  batched_addmm_(grad_a, x, ge.transpose(1, 2), 0.0, 1.0);  // grad_a = X GE^T (- gc below)
  at::Tensor asum = x.new_empty({B, K}), gc = x.new_empty({B, K});
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    with_kernels<scalar_t>(op, x, [&](const Kernels<scalar_t>& k) {
      k.col_sums(a.data_ptr<scalar_t>(), nullptr, B, N, K, asum.data_ptr<scalar_t>());
      k.aggregate_code_grads(ge.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), asum.data_ptr<scalar_t>(), B, K, D,
                             gc.data_ptr<scalar_t>(), grad_c.data_ptr<scalar_t>());
      k.sub_rows(grad_a.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), B, N, K);
    });
  });
  return {grad_a, grad_x, grad_c};
}

}  // namespace segtools
