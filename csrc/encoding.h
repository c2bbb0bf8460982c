// Encoding layer ops (Deep TEN / EncNet, Zhang et al. 2017/2018):
//   scaled_l2:  SL[b,n,k] = S[k] * ||X[b,n] - C[k]||^2           X (B,N,D), C (K,D), S (K) -> (B,N,K)
//   aggregate:  E[b,k]    = sum_n A[b,n,k] * (X[b,n] - C[k])     A (B,N,K), X (B,N,D), C (K,D) -> (B,K,D)
// Nothing of size B*N*K*D is ever formed. Both ops are rewritten as GEMMs (through ATen,
// so they run on any device) plus cheap fix-up kernels of size B*N*K, B*N or K*D:
//   ||x - c||^2 = ||x||^2 + ||c||^2 - 2 x.c                          (one (B*N,D)x(D,K) GEMM)
//   E[b]        = A[b]^T X[b] - (sum_n A[b,n,:])^T (.) C              (one GEMM per batch)
// Backward, with G = grad_SL, Gs = G * S[k], w[n] = sum_k Gs[n,k], g1[k] = sum_n G[n,k],
// gxx[k] = sum_n G[n,k] ||x_n||^2 and GtX = sum_b G[b]^T X[b] (K,D):
//   grad_X = 2 w[n] x_n - 2 Gs C
//   grad_C = 2 S[k] (g1[k] c_k - GtX[k])
//   grad_S = gxx[k] + g1[k] ||c_k||^2 - 2 GtX[k].c_k                  (no division by S: S = 0 is safe)
// and with GE = grad_E, asum[b,k] = sum_n A[b,n,k], gc[b,k] = GE[b,k].c_k:
//   grad_A[b] = X[b] GE[b]^T - gc[b]   grad_X[b] = A[b] GE[b]   grad_C[k] = -sum_b asum[b,k] GE[b,k]
//
// X may be a contiguous (B,N,D) tensor or a transposed view of a contiguous (B,D,N) one
// (what the Encoding layer passes: x.flatten(2).transpose(1, 2)); both are used without a
// copy and grad_X is returned in the same layout. Any other layout is made contiguous.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>

#include <vector>

#include "cuda/encoding_cuda.h"

namespace segtools {

SEGTOOLS_ENCODING_KERNELS(cpu)

// The only device switch: SEGTOOLS_ENCODING_KERNEL(on_cuda, name, T) is the CUDA or CPU version of a
// kernel above; check_encoding_device rejects what this build cannot run.
#ifdef WITH_CUDA
#define SEGTOOLS_ENCODING_KERNEL(on_cuda, name, T) ((on_cuda) ? &name##_cuda<T> : &name##_cpu<T>)
inline void check_encoding_device(const char* op, const at::Tensor& t) {
  TORCH_CHECK(t.is_cpu() || t.is_cuda(), op, ": unsupported device ", t.device());
}
#else
#define SEGTOOLS_ENCODING_KERNEL(on_cuda, name, T) (&name##_cpu<T>)
inline void check_encoding_device(const char* op, const at::Tensor& t) {
  TORCH_CHECK(!t.is_cuda(), op,
              ": segtools._ext was built without CUDA; rebuild it with "
              "`FORCE_CUDA=1 pip install --no-build-isolation -e .` on a machine with the CUDA toolkit");
  TORCH_CHECK(t.is_cpu(), op, ": unsupported device ", t.device());
}
#endif

namespace encoding_detail {

inline void check_inputs(const char* op, std::initializer_list<std::pair<const char*, const at::Tensor*>> named) {
  const at::Tensor& first = *named.begin()->second;
  check_encoding_device(op, first);
  TORCH_CHECK(first.scalar_type() == at::kFloat || first.scalar_type() == at::kDouble, op, ": ", named.begin()->first,
              " must be float32 or float64, got ", first.scalar_type());
  for (const auto& [name, t] : named) {
    TORCH_CHECK(t->scalar_type() == first.scalar_type(), op, ": ", name, " must have dtype ", first.scalar_type(),
                ", got ", t->scalar_type());
    TORCH_CHECK(t->device() == first.device(), op, ": ", name, " must be on ", first.device(), ", got ", t->device());
  }
}

// X as used by the kernels: contiguous (B,N,D), or the (B,N,D) transpose of a contiguous
// (B,D,N) tensor (channels_first). Anything else is copied to contiguous.
inline at::Tensor canonical_x(const at::Tensor& X, bool* channels_first) {
  *channels_first = !X.is_contiguous() && X.transpose(1, 2).is_contiguous();
  return *channels_first ? X : X.contiguous();
}

// An uninitialised (B,N,D) tensor in the layout of X. empty_strided rather than a transposed
// view: autograd sums the two gradients of X in place only into a tensor that is not a view.
inline at::Tensor empty_in_layout(const at::Tensor& x, bool channels_first) {
  if (!channels_first) return at::empty(x.sizes(), x.options());
  const int64_t N = x.size(1), D = x.size(2);
  return at::empty_strided(x.sizes(), {N * D, 1, N}, x.options());
}

// out[b] = beta * out[b] + alpha * m1[b] @ m2[b] for every batch b, where a 2-D m2 is shared
// by all batches. When nothing needs per-batch strides the batch is folded into the rows
// (one large GEMM); otherwise each batch is one GEMM on (possibly transposed) views, which
// BLAS takes without copies.
inline void batched_addmm_(const at::Tensor& out, const at::Tensor& m1, const at::Tensor& m2, double beta,
                           double alpha) {
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
inline void batch_sum_tmm_(const at::Tensor& out, const at::Tensor& g, const at::Tensor& x) {
  if (g.is_contiguous() && x.is_contiguous()) {
    out.addmm_(g.view({-1, g.size(2)}).t(), x.view({-1, x.size(2)}), 0.0, 1.0);
    return;
  }
  for (int64_t b = 0; b < x.size(0); ++b) {
    out.addmm_(g.select(0, b).t(), x.select(0, b), b == 0 ? 0.0 : 1.0, 1.0);
  }
}

}  // namespace encoding_detail

// X (B,N,D), C (K,D), S (K) -> SL (B,N,K), SL[b,n,k] = S[k] * ||X[b,n] - C[k]||^2.
// The squared distance is clamped at 0 (it is >= 0 exactly; cancellation in
// ||x||^2 + ||c||^2 - 2 x.c can make it slightly negative). The clamp is forward-only:
// the backward uses the exact formula, which differs only where the distance is 0.
inline at::Tensor scaled_l2_forward(const at::Tensor& X, const at::Tensor& C, const at::Tensor& S) {
  TORCH_CHECK(X.dim() == 3, "scaled_l2_forward: X must be (B, N, D), got ", X.sizes());
  TORCH_CHECK(C.dim() == 2 && C.size(1) == X.size(2), "scaled_l2_forward: C must be (K, D=", X.size(2), "), got ",
              C.sizes());
  TORCH_CHECK(S.dim() == 1 && S.size(0) == C.size(0), "scaled_l2_forward: S must be (K=", C.size(0), "), got ",
              S.sizes());
  encoding_detail::check_inputs("scaled_l2_forward", {{"X", &X}, {"C", &C}, {"S", &S}});
  const c10::OptionalDeviceGuard guard(X.device());
  bool cf = false;
  const at::Tensor x = encoding_detail::canonical_x(X, &cf);
  const at::Tensor c = C.contiguous(), s = S.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor sl = at::empty({B, N, K}, x.options());
  if (sl.numel() == 0) return sl;
  encoding_detail::batched_addmm_(sl, x, c.t(), 0.0, 1.0);  // sl = x.c
  at::Tensor xx = at::empty({B, N}, x.options()), cc = at::empty({K}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "scaled_l2_forward", [&] {
    const bool cuda = x.is_cuda();
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_sq_norms, scalar_t)(x.data_ptr<scalar_t>(), B, N, D, cf,
                                                                xx.data_ptr<scalar_t>(), nullptr, nullptr, 0);
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_sq_norms, scalar_t)(c.data_ptr<scalar_t>(), 1, K, D, false,
                                                                cc.data_ptr<scalar_t>(), nullptr, nullptr, 0);
    SEGTOOLS_ENCODING_KERNEL(cuda, scaled_l2_combine, scalar_t)(
        sl.data_ptr<scalar_t>(), xx.data_ptr<scalar_t>(), cc.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), B * N, K);
  });
  return sl;
}

// -> {grad_X (B,N,D) in the layout of X, grad_C (K,D), grad_S (K)}.
inline std::vector<at::Tensor> scaled_l2_backward(const at::Tensor& grad_SL, const at::Tensor& X, const at::Tensor& C,
                                                  const at::Tensor& S) {
  TORCH_CHECK(X.dim() == 3, "scaled_l2_backward: X must be (B, N, D), got ", X.sizes());
  TORCH_CHECK(C.dim() == 2 && C.size(1) == X.size(2), "scaled_l2_backward: C must be (K, D=", X.size(2), "), got ",
              C.sizes());
  TORCH_CHECK(S.dim() == 1 && S.size(0) == C.size(0), "scaled_l2_backward: S must be (K=", C.size(0), "), got ",
              S.sizes());
  TORCH_CHECK(grad_SL.dim() == 3 && grad_SL.size(0) == X.size(0) && grad_SL.size(1) == X.size(1) &&
                  grad_SL.size(2) == C.size(0),
              "scaled_l2_backward: grad_SL must be (B, N, K) = (", X.size(0), ", ", X.size(1), ", ", C.size(0),
              "), got ", grad_SL.sizes());
  encoding_detail::check_inputs("scaled_l2_backward", {{"grad_SL", &grad_SL}, {"X", &X}, {"C", &C}, {"S", &S}});
  const c10::OptionalDeviceGuard guard(X.device());
  bool cf = false;
  const at::Tensor x = encoding_detail::canonical_x(X, &cf);
  const at::Tensor g = grad_SL.contiguous(), c = C.contiguous(), s = S.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor grad_x = encoding_detail::empty_in_layout(x, cf);
  at::Tensor grad_c = at::zeros({K, D}, x.options()), grad_s = at::zeros({K}, x.options());
  if (B * N == 0 || K == 0) return {grad_x.zero_(), grad_c, grad_s};
  at::Tensor gs = at::empty({B, N, K}, x.options()), w = at::empty({B, N}, x.options());
  at::Tensor xx = at::empty({B, N}, x.options()), cc = at::empty({K}, x.options());
  at::Tensor g1 = at::empty({K}, x.options()), gxx = at::empty({K}, x.options());
  at::Tensor gtx = at::empty({K, D}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "scaled_l2_backward", [&] {
    const bool cuda = x.is_cuda();
    SEGTOOLS_ENCODING_KERNEL(cuda, scaled_l2_scale_grad, scalar_t)(
        g.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), B * N, K, gs.data_ptr<scalar_t>(), w.data_ptr<scalar_t>());
    encoding_detail::batched_addmm_(grad_x, gs, c, 0.0, -2.0);  // grad_x = -2 Gs C
    encoding_detail::batch_sum_tmm_(gtx, g, x);                 // GtX = sum_b G[b]^T X[b]
    // grad_x += 2 w x, and ||x||^2 in the same pass over X.
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_sq_norms, scalar_t)(x.data_ptr<scalar_t>(), B, N, D, cf,
                                                                xx.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
                                                                w.data_ptr<scalar_t>(), scalar_t(2));
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_sq_norms, scalar_t)(c.data_ptr<scalar_t>(), 1, K, D, false,
                                                                cc.data_ptr<scalar_t>(), nullptr, nullptr, 0);
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_col_sums, scalar_t)(g.data_ptr<scalar_t>(), nullptr, 1, B * N, K,
                                                                g1.data_ptr<scalar_t>());
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_col_sums, scalar_t)(g.data_ptr<scalar_t>(), xx.data_ptr<scalar_t>(), 1,
                                                                B * N, K, gxx.data_ptr<scalar_t>());
    SEGTOOLS_ENCODING_KERNEL(cuda, scaled_l2_param_grads, scalar_t)(
        gtx.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), cc.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(),
        g1.data_ptr<scalar_t>(), gxx.data_ptr<scalar_t>(), K, D, grad_c.data_ptr<scalar_t>(),
        grad_s.data_ptr<scalar_t>());
  });
  return {grad_x, grad_c, grad_s};
}

// A (B,N,K), X (B,N,D), C (K,D) -> E (B,K,D), E[b,k] = sum_n A[b,n,k] * (X[b,n] - C[k]).
inline at::Tensor aggregate_forward(const at::Tensor& A, const at::Tensor& X, const at::Tensor& C) {
  TORCH_CHECK(A.dim() == 3, "aggregate_forward: A must be (B, N, K), got ", A.sizes());
  TORCH_CHECK(X.dim() == 3 && X.size(0) == A.size(0) && X.size(1) == A.size(1),
              "aggregate_forward: X must be (B=", A.size(0), ", N=", A.size(1), ", D), got ", X.sizes());
  TORCH_CHECK(C.dim() == 2 && C.size(0) == A.size(2) && C.size(1) == X.size(2),
              "aggregate_forward: C must be (K=", A.size(2), ", D=", X.size(2), "), got ", C.sizes());
  encoding_detail::check_inputs("aggregate_forward", {{"A", &A}, {"X", &X}, {"C", &C}});
  const c10::OptionalDeviceGuard guard(X.device());
  bool cf = false;
  const at::Tensor x = encoding_detail::canonical_x(X, &cf);
  const at::Tensor a = A.contiguous(), c = C.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor e = at::empty({B, K, D}, x.options());
  if (e.numel() == 0) return e;
  if (N == 0) return e.zero_();
  encoding_detail::batched_addmm_(e, a.transpose(1, 2), x, 0.0, 1.0);  // e = A^T X
  at::Tensor asum = at::empty({B, K}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "aggregate_forward", [&] {
    const bool cuda = x.is_cuda();
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_col_sums, scalar_t)(a.data_ptr<scalar_t>(), nullptr, B, N, K,
                                                                asum.data_ptr<scalar_t>());
    SEGTOOLS_ENCODING_KERNEL(cuda, aggregate_subtract_codes, scalar_t)(
        e.data_ptr<scalar_t>(), asum.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), B, K, D);
  });
  return e;
}

// -> {grad_A (B,N,K), grad_X (B,N,D) in the layout of X, grad_C (K,D)}.
inline std::vector<at::Tensor> aggregate_backward(const at::Tensor& grad_E, const at::Tensor& A, const at::Tensor& X,
                                                  const at::Tensor& C) {
  TORCH_CHECK(A.dim() == 3, "aggregate_backward: A must be (B, N, K), got ", A.sizes());
  TORCH_CHECK(X.dim() == 3 && X.size(0) == A.size(0) && X.size(1) == A.size(1),
              "aggregate_backward: X must be (B=", A.size(0), ", N=", A.size(1), ", D), got ", X.sizes());
  TORCH_CHECK(C.dim() == 2 && C.size(0) == A.size(2) && C.size(1) == X.size(2),
              "aggregate_backward: C must be (K=", A.size(2), ", D=", X.size(2), "), got ", C.sizes());
  TORCH_CHECK(
      grad_E.dim() == 3 && grad_E.size(0) == A.size(0) && grad_E.size(1) == C.size(0) && grad_E.size(2) == C.size(1),
      "aggregate_backward: grad_E must be (B, K, D) = (", A.size(0), ", ", C.size(0), ", ", C.size(1), "), got ",
      grad_E.sizes());
  encoding_detail::check_inputs("aggregate_backward", {{"grad_E", &grad_E}, {"A", &A}, {"X", &X}, {"C", &C}});
  const c10::OptionalDeviceGuard guard(X.device());
  bool cf = false;
  const at::Tensor x = encoding_detail::canonical_x(X, &cf);
  const at::Tensor ge = grad_E.contiguous(), a = A.contiguous(), c = C.contiguous();
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), K = c.size(0);
  at::Tensor grad_a = at::empty({B, N, K}, x.options());
  at::Tensor grad_x = encoding_detail::empty_in_layout(x, cf);
  at::Tensor grad_c = at::zeros({K, D}, x.options());
  if (B * N == 0 || K == 0) return {grad_a, grad_x.zero_(), grad_c};
  encoding_detail::batched_addmm_(grad_x, a, ge, 0.0, 1.0);                  // grad_x = A GE
  encoding_detail::batched_addmm_(grad_a, x, ge.transpose(1, 2), 0.0, 1.0);  // grad_a = X GE^T (- gc below)
  at::Tensor asum = at::empty({B, K}, x.options()), gc = at::empty({B, K}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "aggregate_backward", [&] {
    const bool cuda = x.is_cuda();
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_col_sums, scalar_t)(a.data_ptr<scalar_t>(), nullptr, B, N, K,
                                                                asum.data_ptr<scalar_t>());
    SEGTOOLS_ENCODING_KERNEL(cuda, aggregate_code_grads, scalar_t)(
        ge.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), asum.data_ptr<scalar_t>(), B, K, D, gc.data_ptr<scalar_t>(),
        grad_c.data_ptr<scalar_t>());
    SEGTOOLS_ENCODING_KERNEL(cuda, encoding_sub_rows, scalar_t)(grad_a.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), B,
                                                                N, K);
  });
  return {grad_a, grad_x, grad_c};
}

}  // namespace segtools

#undef SEGTOOLS_ENCODING_KERNEL
