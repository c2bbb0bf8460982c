// CPU fix-up kernels of the Encoding ops (see csrc/encoding.h for the algebra). The GEMMs
// run in ATen; these fuse the cheap element-wise and reduction parts into single passes.
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "cuda/encoding_cuda.h"

namespace segtools {
namespace {

// Rows per task in the row-parallel loops: enough work to amortise the task overhead.
inline int64_t grain_for(int64_t row_len) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(row_len, 1)); }

// Channels-first X is walked in tiles of this many positions n, so the accumulators stay in
// L1 while each of the D planes is streamed with unit stride.
constexpr int64_t kTile = 256;

}  // namespace

template <typename T>
void encoding_sq_norms_cpu(const T* x, int64_t batch, int64_t rows, int64_t dim, bool channels_first, T* sq, T* grad_x,
                           const T* w, T alpha) {
  if (!channels_first) {
    at::parallel_for(0, batch * rows, grain_for(dim), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* xr = x + r * dim;
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t d = 0; d < dim; ++d) acc += xr[d] * xr[d];
        sq[r] = acc;
        if (grad_x != nullptr) {
          T* gr = grad_x + r * dim;
          const T scale = alpha * w[r];
#pragma omp simd
          for (int64_t d = 0; d < dim; ++d) gr[d] += scale * xr[d];
        }
      }
    });
    return;
  }
  // x[b, d, n]: accumulate a tile of positions across the D planes.
  const int64_t tiles = (rows + kTile - 1) / kTile;
  at::parallel_for(0, batch * tiles, 1, [&](int64_t begin, int64_t end) {
    T acc[kTile];
    T scale[kTile];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t / tiles, n0 = (t % tiles) * kTile, len = std::min(kTile, rows - n0);
      const int64_t base = b * dim * rows + n0;
      std::fill(acc, acc + len, T(0));
      if (grad_x != nullptr) {
        for (int64_t i = 0; i < len; ++i) scale[i] = alpha * w[b * rows + n0 + i];
      }
      for (int64_t d = 0; d < dim; ++d) {
        const T* xd = x + base + d * rows;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) acc[i] += xd[i] * xd[i];
        if (grad_x != nullptr) {
          T* gd = grad_x + base + d * rows;
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) gd[i] += scale[i] * xd[i];
        }
      }
      std::copy(acc, acc + len, sq + b * rows + n0);
    }
  });
}

template <typename T>
void scaled_l2_combine_cpu(T* sl, const T* xx, const T* cc, const T* s, int64_t rows, int64_t k) {
  at::parallel_for(0, rows, grain_for(k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* row = sl + r * k;
      const T xr = xx[r];
#pragma omp simd
      for (int64_t j = 0; j < k; ++j) row[j] = s[j] * std::max(xr + cc[j] - T(2) * row[j], T(0));
    }
  });
}

template <typename T>
void scaled_l2_scale_grad_cpu(const T* g, const T* s, int64_t rows, int64_t k, T* gs, T* w) {
  at::parallel_for(0, rows, grain_for(k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* gr = g + r * k;
      T* out = gs + r * k;
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < k; ++j) {
        out[j] = gr[j] * s[j];
        acc += out[j];
      }
      w[r] = acc;
    }
  });
}

template <typename T>
void encoding_col_sums_cpu(const T* m, const T* weight, int64_t batch, int64_t rows, int64_t k, T* out) {
  // Fixed blocks of rows, summed in order afterwards: the result does not depend on the
  // number of threads.
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<T> partial(static_cast<size_t>(batch * blocks * k), T(0));
  at::parallel_for(0, batch * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t / blocks, r0 = (t % blocks) * kBlock, r1 = std::min(rows, r0 + kBlock);
      T* acc = partial.data() + t * k;
      for (int64_t r = r0; r < r1; ++r) {
        const T* mr = m + (b * rows + r) * k;
        const T wr = weight != nullptr ? weight[b * rows + r] : T(1);
#pragma omp simd
        for (int64_t j = 0; j < k; ++j) acc[j] += wr * mr[j];
      }
    }
  });
  for (int64_t b = 0; b < batch; ++b) {
    T* o = out + b * k;
    std::fill(o, o + k, T(0));
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const T* p = partial.data() + (b * blocks + blk) * k;
      for (int64_t j = 0; j < k; ++j) o[j] += p[j];
    }
  }
}

template <typename T>
void scaled_l2_param_grads_cpu(const T* gtx, const T* c, const T* cc, const T* s, const T* g1, const T* gxx, int64_t k,
                               int64_t dim, T* grad_c, T* grad_s) {
  at::parallel_for(0, k, grain_for(dim), [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const T* gj = gtx + j * dim;
      const T* cj = c + j * dim;
      T* out = grad_c + j * dim;
      const T two_s = T(2) * s[j], g1j = g1[j];
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < dim; ++d) {
        dot += gj[d] * cj[d];
        out[d] = two_s * (g1j * cj[d] - gj[d]);
      }
      grad_s[j] = gxx[j] + g1j * cc[j] - T(2) * dot;
    }
  });
}

template <typename T>
void aggregate_subtract_codes_cpu(T* e, const T* asum, const T* c, int64_t batch, int64_t k, int64_t dim) {
  at::parallel_for(0, batch * k, grain_for(dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* er = e + r * dim;
      const T* cj = c + (r % k) * dim;
      const T a = asum[r];
#pragma omp simd
      for (int64_t d = 0; d < dim; ++d) er[d] -= a * cj[d];
    }
  });
}

template <typename T>
void aggregate_code_grads_cpu(const T* ge, const T* c, const T* asum, int64_t batch, int64_t k, int64_t dim, T* gc,
                              T* grad_c) {
  at::parallel_for(0, k, grain_for(batch * dim), [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const T* cj = c + j * dim;
      T* out = grad_c + j * dim;
      std::fill(out, out + dim, T(0));
      for (int64_t b = 0; b < batch; ++b) {
        const T* g = ge + (b * k + j) * dim;
        const T a = asum[b * k + j];
        T dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t d = 0; d < dim; ++d) {
          dot += g[d] * cj[d];
          out[d] -= a * g[d];
        }
        gc[b * k + j] = dot;
      }
    }
  });
}

template <typename T>
void encoding_sub_rows_cpu(T* m, const T* v, int64_t batch, int64_t rows, int64_t k) {
  at::parallel_for(0, batch * rows, grain_for(k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* mr = m + r * k;
      const T* vb = v + (r / rows) * k;
#pragma omp simd
      for (int64_t j = 0; j < k; ++j) mr[j] -= vb[j];
    }
  });
}

SEGTOOLS_ENCODING_INSTANTIATE(cpu)

}  // namespace segtools
