// Host launchers of the SyncBN CUDA kernels. Kept free of ATen so that
// csrc/cuda/sync_bn_cuda.cu compiles in seconds; csrc/sync_bn.cpp includes it too, so both
// see the same declarations. Declared in every build, defined only in CUDA builds (see
// csrc/dispatch.h).
#pragma once

#include <cstdint>

namespace segtools {

// CUDA launchers, defined in csrc/cuda/sync_bn_cuda.cu. They run on the current stream of the current
// device; the arrays are those of the dispatchers in csrc/sync_bn.h. The reductions write
// per-(chunk, channel) partial sums into `partials` (2 * chunks * C doubles, chunks
// from sync_bn_cuda_chunks) and add them in a fixed order, so results do not depend
// on scheduling.
int64_t sync_bn_cuda_chunks(int64_t N, int64_t C, int64_t L);
template <typename T>
void sync_bn_stats_cuda(const T* x, T* mean, T* m2, double* partials, int64_t chunks, int64_t N, int64_t C,
                        int64_t L);
template <typename T>
void sync_bn_forward_cuda(const T* x, T* y, const T* mean, const T* invstd, const T* weight, const T* bias, int64_t N,
                          int64_t C, int64_t L, int64_t activation, double slope);
template <typename T>
void sync_bn_backward_reduce_cuda(const T* grad_y, const T* saved, const T* mean, const T* invstd, const T* weight,
                                  const T* bias, T* sum_dz, T* sum_dz_xhat, double* partials, int64_t chunks,
                                  int64_t N, int64_t C, int64_t L, int64_t activation, double slope,
                                  bool saved_is_output);
template <typename T>
void sync_bn_backward_elemt_cuda(const T* grad_y, const T* saved, const T* mean, const T* invstd, const T* weight,
                                 const T* bias, const T* mean_dz, const T* mean_dz_xhat, T* grad_x, int64_t N,
                                 int64_t C, int64_t L, int64_t activation, double slope, bool saved_is_output);

}  // namespace segtools
