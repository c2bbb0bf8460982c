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

#include <ATen/core/Tensor.h>

#include <vector>

namespace segtools {

// The dispatchers (csrc/encoding.cpp): argument checks, the GEMMs, and the fix-up kernels of
// csrc/cuda/encoding_cuda.h on the device of X.

// X (B,N,D), C (K,D), S (K) -> SL (B,N,K), SL[b,n,k] = S[k] * ||X[b,n] - C[k]||^2.
// The squared distance is clamped at 0 (it is >= 0 exactly; cancellation in
// ||x||^2 + ||c||^2 - 2 x.c can make it slightly negative). The clamp is forward-only:
// the backward uses the exact formula, which differs only where the distance is 0.
at::Tensor scaled_l2_forward(const at::Tensor& X, const at::Tensor& C, const at::Tensor& S);

// -> {grad_X (B,N,D) in the layout of X, grad_C (K,D), grad_S (K)}.
std::vector<at::Tensor> scaled_l2_backward(const at::Tensor& grad_SL, const at::Tensor& X, const at::Tensor& C,
                                           const at::Tensor& S);

// A (B,N,K), X (B,N,D), C (K,D) -> E (B,K,D), E[b,k] = sum_n A[b,n,k] * (X[b,n] - C[k]).
at::Tensor aggregate_forward(const at::Tensor& A, const at::Tensor& X, const at::Tensor& C);

// -> {grad_A (B,N,K), grad_X (B,N,D) in the layout of X, grad_C (K,D)}.
std::vector<at::Tensor> aggregate_backward(const at::Tensor& grad_E, const at::Tensor& A, const at::Tensor& X,
                                           const at::Tensor& C);

}  // namespace segtools
