// CPU kernels of the fused upsampled cross-entropy (formulas in csrc/upsampled_cross_entropy.h).
//
// Both passes walk the output rows (n, oy). A row first blends the two low-resolution rows it
// reads (the vertical half of the bilinear interpolation, in_w * K values), then each pixel
// blends two columns of that row into its K logits, which live only in a K-sized scratch
// buffer: the N x K x H x W upsampled logits are never stored. The logits are channels-last
// so that every blend and the softmax over K run over contiguous memory.
//
// The float path is compiled twice, for x86-64-v3 (AVX2 + FMA) and for the baseline, and the
// loader picks the clone the CPU runs (GCC/Clang target_clones); the exponential is a
// branch-free polynomial so that the loops over K vectorise.
// GCC keeps a floating-point comparison (std::max, the clamp in exp_nonpositive) as a branch,
// which stops a loop from vectorising, unless it may assume that comparisons raise no
// floating-point exception flags; nothing here reads those flags.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "upsampled_cross_entropy_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#define SEGTOOLS_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEGTOOLS_CPU_CLONES
#endif
#if defined(__GNUC__)
#define SEGTOOLS_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define SEGTOOLS_ALWAYS_INLINE inline
#endif

namespace segtools {
namespace {

using Geometry = UpsampledCrossEntropyGeometry;

// The two source indices and weights of one output index of a bilinear resize, as
// torch.nn.functional.interpolate computes them (source index clamped at 0 without
// align_corners; the upper tap repeats the last index at the border).
template <typename T>
struct LinearTap {
  int64_t i0, i1;
  T w0, w1;
};

template <typename T>
LinearTap<T> linear_tap(int64_t dst, int64_t in_size, int64_t out_size, bool align_corners) {
  T src;
  if (align_corners) {
    const T scale = out_size > 1 ? static_cast<T>(in_size - 1) / static_cast<T>(out_size - 1) : T(0);
    src = scale * static_cast<T>(dst);
  } else {
    const T scale = static_cast<T>(in_size) / static_cast<T>(out_size);
    src = std::max(scale * (static_cast<T>(dst) + T(0.5)) - T(0.5), T(0));
  }
  const int64_t i0 = std::min(static_cast<int64_t>(src), in_size - 1);
  const T w1 = std::min(std::max(src - static_cast<T>(i0), T(0)), T(1));
  return {i0, i0 + (i0 < in_size - 1 ? 1 : 0), T(1) - w1, w1};
}

template <typename T>
std::vector<LinearTap<T>> linear_taps(int64_t in_size, int64_t out_size, bool align_corners) {
  std::vector<LinearTap<T>> taps(out_size);
  for (int64_t i = 0; i < out_size; ++i) taps[i] = linear_tap<T>(i, in_size, out_size, align_corners);
  return taps;
}

// exp(x) for x <= 0 within 2 ulp (Cephes' expf): x = n ln2 + r with n = round(x / ln2), exp(r)
// by a degree-6 polynomial, 2^n through the exponent bits. Branch-free, so loops vectorise.
// Below -87.3 (where float32 would go subnormal) the result is 2^-126 instead of ~0: it only
// ever adds to a sum that holds exp(0) = 1.
SEGTOOLS_ALWAYS_INLINE float exp_nonpositive(float x) {
  x = std::max(x, -87.33654f);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 split in two for exactness
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * (r * r) + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return e * scale;
}

SEGTOOLS_ALWAYS_INLINE double exp_nonpositive(double x) { return std::exp(x); }

// out = wa * a + wb * b over n elements.
template <typename T>
SEGTOOLS_ALWAYS_INLINE void blend(T* __restrict out, const T* __restrict a, const T* __restrict b, T wa, T wb,
                                  int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = wa * a[i] + wb * b[i];
}

// y += a * x over n elements.
template <typename T>
SEGTOOLS_ALWAYS_INLINE void axpy(T* __restrict y, const T* __restrict x, T a, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Reductions over n elements in kLanes independent partial results, which the compiler turns
// into vector operations; '#pragma omp simd reduction' does not vectorise inside a
// target_clones clone (GCC sizes its per-lane arrays for the default target).
constexpr int kLanes = 16;

template <typename T>
SEGTOOLS_ALWAYS_INLINE T max_of(const T* __restrict x, int64_t n) {
  T lanes[kLanes];
  for (int j = 0; j < kLanes; ++j) lanes[j] = x[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] = std::max(lanes[j], x[i + j]);
  }
  T result = x[0];
  for (int j = 0; j < kLanes; ++j) result = std::max(result, lanes[j]);
  for (; i < n; ++i) result = std::max(result, x[i]);
  return result;
}

template <typename T>
SEGTOOLS_ALWAYS_INLINE T sum_of(const T* __restrict x, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += x[i + j];
  }
  T result = 0;
  for (int j = 0; j < kLanes; ++j) result += lanes[j];
  for (; i < n; ++i) result += x[i];
  return result;
}

// Scratch of one chunk of output rows: the blended row (in_w x K) and one pixel's K values.
template <typename T>
struct Scratch {
  std::vector<T> row, pixel;
  explicit Scratch(const Geometry& g) : row(g.in_w * g.classes), pixel(g.classes) {}
};

// row = the vertical blend of the two low-resolution rows that output row r reads.
template <typename T>
SEGTOOLS_ALWAYS_INLINE void blend_rows(const T* logits, const Geometry& g, const LinearTap<T>& ty, int64_t n, T* row) {
  const int64_t row_size = g.in_w * g.classes;
  const T* plane = logits + n * g.in_h * row_size;
  blend(row, plane + ty.i0 * row_size, plane + ty.i1 * row_size, ty.w0, ty.w1, row_size);
}

struct ForwardArgs {
  const void* logits;
  const int64_t* target;
  const void* class_weight;
  const Geometry* g;
  const void* row_taps;
  const void* col_taps;
  void* loss;
  void* lse;
  int64_t* pred;
};

// Output rows [begin, end) of the forward; returns a label out of range, if any.
template <typename T>
SEGTOOLS_ALWAYS_INLINE std::optional<int64_t> forward_rows(const ForwardArgs& a, int64_t begin, int64_t end) {
  const Geometry& g = *a.g;
  const T* logits = static_cast<const T*>(a.logits);
  const T* class_weight = static_cast<const T*>(a.class_weight);
  const auto* row_taps = static_cast<const LinearTap<T>*>(a.row_taps);
  const auto* col_taps = static_cast<const LinearTap<T>*>(a.col_taps);
  const int64_t k = g.classes;
  Scratch<T> s(g);
  std::vector<T> exps(k);
  T* __restrict v = s.pixel.data();
  T* __restrict e = exps.data();
  std::optional<int64_t> bad_label;
  for (int64_t r = begin; r < end; ++r) {
    blend_rows(logits, g, row_taps[r % g.out_h], r / g.out_h, s.row.data());
    for (int64_t ox = 0; ox < g.out_w; ++ox) {
      const LinearTap<T>& tx = col_taps[ox];
      blend(v, s.row.data() + tx.i0 * k, s.row.data() + tx.i1 * k, tx.w0, tx.w1, k);
      const T max = max_of(v, k);
      int64_t argmax = 0;
      while (argmax < k - 1 && !(v[argmax] == max)) ++argmax;
#pragma omp simd
      for (int64_t c = 0; c < k; ++c) e[c] = exp_nonpositive(v[c] - max);
      const T sum = sum_of(e, k);
      const T log_sum_exp = max + std::log(sum);
      const int64_t i = r * g.out_w + ox;
      const int64_t label = a.target[i];
      static_cast<T*>(a.lse)[i] = log_sum_exp;
      a.pred[i] = argmax;
      T loss = 0;
      if (label == g.ignore_index) {
        // ignored: loss 0
      } else if (label >= 0 && label < k) {
        loss = (log_sum_exp - v[label]) * (class_weight != nullptr ? class_weight[label] : T(1));
      } else {
        bad_label = label;
      }
      static_cast<T*>(a.loss)[i] = loss;
    }
  }
  return bad_label;
}

struct BackwardArgs {
  const void* grad_loss;
  const void* logits;
  const int64_t* target;
  const void* class_weight;
  const void* lse;
  const Geometry* g;
  const void* row_taps;
  const void* col_taps;
};

// Output rows [begin, end) of the backward, accumulated into grad: the low-resolution rows
// from (n, y0) of row begin on, channels-last.
template <typename T>
SEGTOOLS_ALWAYS_INLINE void backward_rows(const BackwardArgs& a, int64_t begin, int64_t end, T* grad) {
  const Geometry& g = *a.g;
  const T* logits = static_cast<const T*>(a.logits);
  const T* grad_loss = static_cast<const T*>(a.grad_loss);
  const T* lse = static_cast<const T*>(a.lse);
  const T* class_weight = static_cast<const T*>(a.class_weight);
  const auto* row_taps = static_cast<const LinearTap<T>*>(a.row_taps);
  const auto* col_taps = static_cast<const LinearTap<T>*>(a.col_taps);
  const int64_t k = g.classes, row_size = g.in_w * k;
  const int64_t first = (begin / g.out_h) * g.in_h + row_taps[begin % g.out_h].i0;
  Scratch<T> s(g);
  std::vector<T> grad_row(row_size);
  T* __restrict v = s.pixel.data();
  for (int64_t r = begin; r < end; ++r) {
    const int64_t n = r / g.out_h;
    const LinearTap<T>& ty = row_taps[r % g.out_h];
    blend_rows(logits, g, ty, n, s.row.data());
    std::fill(grad_row.begin(), grad_row.end(), T(0));
    bool any = false;
    for (int64_t ox = 0; ox < g.out_w; ++ox) {
      const int64_t i = r * g.out_w + ox;
      const int64_t label = a.target[i];
      if (label == g.ignore_index || label < 0 || label >= k) continue;  // ignored: no gradient
      const T scale = grad_loss[i] * (class_weight != nullptr ? class_weight[label] : T(1));
      if (scale == T(0)) continue;
      any = true;
      const LinearTap<T>& tx = col_taps[ox];
      blend(v, s.row.data() + tx.i0 * k, s.row.data() + tx.i1 * k, tx.w0, tx.w1, k);
      // d loss / d logit_c = scale * (softmax_c - [c == label])
      const T log_sum_exp = lse[i];
#pragma omp simd
      for (int64_t c = 0; c < k; ++c) v[c] = scale * exp_nonpositive(v[c] - log_sum_exp);
      v[label] -= scale;
      axpy(grad_row.data() + tx.i0 * k, v, tx.w0, k);
      axpy(grad_row.data() + tx.i1 * k, v, tx.w1, k);
    }
    if (!any) continue;
    T* base = grad + (n * g.in_h - first) * row_size;
    axpy(base + ty.i0 * row_size, grad_row.data(), ty.w0, row_size);
    axpy(base + ty.i1 * row_size, grad_row.data(), ty.w1, row_size);
  }
}

SEGTOOLS_CPU_CLONES std::optional<int64_t> forward_rows_float(const ForwardArgs& a, int64_t begin, int64_t end) {
  return forward_rows<float>(a, begin, end);
}

SEGTOOLS_CPU_CLONES void backward_rows_float(const BackwardArgs& a, int64_t begin, int64_t end, float* grad) {
  backward_rows<float>(a, begin, end, grad);
}

template <typename T>
std::optional<int64_t> forward_chunk(const ForwardArgs& a, int64_t begin, int64_t end) {
  if constexpr (std::is_same_v<T, float>) {
    return forward_rows_float(a, begin, end);
  } else {
    return forward_rows<T>(a, begin, end);
  }
}

template <typename T>
void backward_chunk(const BackwardArgs& a, int64_t begin, int64_t end, T* grad) {
  if constexpr (std::is_same_v<T, float>) {
    backward_rows_float(a, begin, end, grad);
  } else {
    backward_rows<T>(a, begin, end, grad);
  }
}

}  // namespace

template <typename scalar_t>
std::optional<int64_t> upsampled_cross_entropy_forward_cpu(const scalar_t* logits, const int64_t* target,
                                                           const scalar_t* class_weight, const Geometry& g,
                                                           scalar_t* loss, scalar_t* lse, int64_t* pred) {
  const auto row_taps = linear_taps<scalar_t>(g.in_h, g.out_h, g.align_corners);
  const auto col_taps = linear_taps<scalar_t>(g.in_w, g.out_w, g.align_corners);
  const ForwardArgs args{logits, target, class_weight, &g, row_taps.data(), col_taps.data(), loss, lse, pred};
  const int64_t rows = g.batch * g.out_h;
  std::vector<std::optional<int64_t>> bad(rows);
  // ~8 rows of 512 pixels x 150 classes per task.
  const int64_t grain = std::max<int64_t>(1, 600000 / std::max<int64_t>(1, g.out_w * g.classes));
  at::parallel_for(0, rows, grain,
                   [&](int64_t begin, int64_t end) { bad[begin] = forward_chunk<scalar_t>(args, begin, end); });
  for (const std::optional<int64_t>& label : bad) {
    if (label.has_value()) return label;
  }
  return std::nullopt;
}

template <typename scalar_t>
void upsampled_cross_entropy_backward_cpu(const scalar_t* grad_loss, const scalar_t* logits, const int64_t* target,
                                          const scalar_t* class_weight, const scalar_t* lse, const Geometry& g,
                                          scalar_t* grad_logits) {
  const auto row_taps = linear_taps<scalar_t>(g.in_h, g.out_h, g.align_corners);
  const auto col_taps = linear_taps<scalar_t>(g.in_w, g.out_w, g.align_corners);
  const BackwardArgs args{grad_loss, logits, target, class_weight, lse, &g, row_taps.data(), col_taps.data()};
  const int64_t rows = g.batch * g.out_h, low_rows = g.batch * g.in_h, row_size = g.in_w * g.classes;
  // Output rows are split into a fixed number of chunks, each accumulating into its own buffer
  // over the low-resolution rows it reaches (a contiguous span: the rows it reads only grow
  // with r); the buffers are then summed row by row in chunk order, so the result does not
  // depend on which thread ran which chunk.
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows));
  std::vector<int64_t> first(chunks), last(chunks);
  std::vector<std::vector<scalar_t>> buffers(chunks);
  auto chunk_begin = [&](int64_t c) { return c * rows / chunks; };
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = chunk_begin(c), end = chunk_begin(c + 1) - 1;
    first[c] = (begin / g.out_h) * g.in_h + row_taps[begin % g.out_h].i0;
    last[c] = (end / g.out_h) * g.in_h + row_taps[end % g.out_h].i1;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      buffers[c].assign((last[c] - first[c] + 1) * row_size, scalar_t(0));
      backward_chunk<scalar_t>(args, chunk_begin(c), chunk_begin(c + 1), buffers[c].data());
    }
  });
  at::parallel_for(0, low_rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      scalar_t* out = grad_logits + j * row_size;
      std::fill(out, out + row_size, scalar_t(0));
      for (int64_t c = 0; c < chunks; ++c) {
        if (j >= first[c] && j <= last[c])
          axpy(out, buffers[c].data() + (j - first[c]) * row_size, scalar_t(1), row_size);
      }
    }
  });
}

template std::optional<int64_t> upsampled_cross_entropy_forward_cpu<float>(const float*, const int64_t*, const float*,
                                                                           const Geometry&, float*, float*, int64_t*);
template std::optional<int64_t> upsampled_cross_entropy_forward_cpu<double>(const double*, const int64_t*,
                                                                            const double*, const Geometry&, double*,
                                                                            double*, int64_t*);
template void upsampled_cross_entropy_backward_cpu<float>(const float*, const float*, const int64_t*, const float*,
                                                          const float*, const Geometry&, float*);
template void upsampled_cross_entropy_backward_cpu<double>(const double*, const double*, const int64_t*, const double*,
                                                           const double*, const Geometry&, double*);

}  // namespace segtools
