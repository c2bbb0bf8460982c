// Declarations of the Encoding fix-up kernels, the CPU and the CUDA family (the CUDA one is
// declared in every build and defined only in CUDA builds; see csrc/dispatch.h), free of ATen
// so that csrc/cuda/encoding_cuda.cu (which defines the CUDA family) compiles in seconds and
// checks its definitions against the same declarations as csrc/encoding.cpp.
#pragma once

#include <cstdint>

namespace segtools {

// ---------------------------------------------------------------------------------------
// Fix-up kernels. Raw pointers to contiguous data (X may be channels-first, see csrc/encoding.h);
// the CPU versions live in csrc/cpu/encoding_cpu.cpp, the CUDA ones in
// csrc/cuda/encoding_cuda.cu, with identical signatures.
// SEGTOOLS_ENCODING_KERNELS(DEV, HEAD, T) lists them once, for both uses:
// SEGTOOLS_ENCODING_DECLARE(DEV) declares the templates (HEAD `template <typename T>`) and
// SEGTOOLS_ENCODING_INSTANTIATE(DEV), in the file that defines them, instantiates them
// explicitly for float and double (HEAD `template`, T deduced from the parameters).
// ---------------------------------------------------------------------------------------
#define SEGTOOLS_ENCODING_KERNELS(DEV, HEAD, T)                                                                       \
  /* sq[b,n] = ||x[b,n,:]||^2; if grad_x: grad_x[b,n,:] += alpha * w[b,n] * x[b,n,:] (grad_x has x's layout). */      \
  HEAD void encoding_sq_norms_##DEV(const T* x, int64_t batch, int64_t rows, int64_t dim, bool channels_first, T* sq, \
                                    T* grad_x, const T* w, T alpha);                                                  \
  /* sl[r,k] = s[k] * max(xx[r] + cc[k] - 2 sl[r,k], 0): turns x.c into the scaled distance, in place. */             \
  HEAD void scaled_l2_combine_##DEV(T* sl, const T* xx, const T* cc, const T* s, int64_t rows, int64_t k);            \
  /* gs[r,k] = g[r,k] * s[k];  w[r] = sum_k gs[r,k]. */                                                               \
  HEAD void scaled_l2_scale_grad_##DEV(const T* g, const T* s, int64_t rows, int64_t k, T* gs, T* w);                 \
  /* out[b,k] = sum_r m[b,r,k] * (weight ? weight[b,r] : 1); deterministic. */                                        \
  HEAD void encoding_col_sums_##DEV(const T* m, const T* weight, int64_t batch, int64_t rows, int64_t k, T* out);     \
  /* grad_s[k] = gxx[k] + g1[k] cc[k] - 2 gtx[k].c[k];  grad_c[k] = 2 s[k] (g1[k] c[k] - gtx[k]). */                  \
  HEAD void scaled_l2_param_grads_##DEV(const T* gtx, const T* c, const T* cc, const T* s, const T* g1, const T* gxx, \
                                        int64_t k, int64_t dim, T* grad_c, T* grad_s);                                \
  /* e[b,k,:] -= asum[b,k] * c[k,:]. */                                                                               \
  HEAD void aggregate_subtract_codes_##DEV(T* e, const T* asum, const T* c, int64_t batch, int64_t k, int64_t dim);   \
  /* gc[b,k] = ge[b,k].c[k];  grad_c[k] = -sum_b asum[b,k] ge[b,k]. */                                                \
  HEAD void aggregate_code_grads_##DEV(const T* ge, const T* c, const T* asum, int64_t batch, int64_t k, int64_t dim, \
                                       T* gc, T* grad_c);                                                             \
  /* m[b,r,k] -= v[b,k]. */                                                                                           \
  HEAD void encoding_sub_rows_##DEV(T* m, const T* v, int64_t batch, int64_t rows, int64_t k);

#define SEGTOOLS_ENCODING_DECLARE(DEV) SEGTOOLS_ENCODING_KERNELS(DEV, template <typename T>, T)
#define SEGTOOLS_ENCODING_INSTANTIATE(DEV)        \
  SEGTOOLS_ENCODING_KERNELS(DEV, template, float) \
  SEGTOOLS_ENCODING_KERNELS(DEV, template, double)

SEGTOOLS_ENCODING_DECLARE(cpu)
SEGTOOLS_ENCODING_DECLARE(cuda)

}  // namespace segtools
