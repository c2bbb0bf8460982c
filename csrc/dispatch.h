// What every op's dispatcher (csrc/<op>.cpp) shares: argument checks that name the op and
// the argument, and the one switch between the CPU and the CUDA kernels. A dispatcher checks
// its arguments, allocates its outputs and runs its kernel through dispatch_device:
//
//   at::Tensor my_op(const at::Tensor& x) {
//     constexpr const char* op = "my_op";
//     check_shape(op, "x", x, {{"N"}, {"C", 3}});
//     check_dtype_device(op, {{"x", x}});
//     at::Tensor y = empty_like_dense(x);
//     AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
//       dispatch_device(op, x, [&] { my_op_cpu<scalar_t>(...); }, [&] { my_op_cuda<scalar_t>(...); });
//     });
//     return y;
//   }
//
// The CUDA launchers (csrc/cuda/<op>_cuda.h) are declared in every build, so the CUDA branch
// of a dispatcher is compiled, and its errors reported, in every build. Without WITH_CUDA
// dispatch_device never calls it, so it is never emitted and the launchers it names need no
// definition.
//
// Light includes only: the dispatchers and bindings.cpp include this, and ATen/ATen.h would
// cost every one of them seconds of compile time.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace segtools {

// Whether the CUDA kernels are compiled in: the one test of WITH_CUDA in csrc/.
#ifdef WITH_CUDA
inline constexpr bool kWithCuda = true;
#else
inline constexpr bool kWithCuda = false;
#endif

// Throws unless t is on a device this build runs: the CPU, or CUDA when built with it.
inline void check_device(const char* op, const at::Tensor& t) {
  TORCH_CHECK(kWithCuda || !t.is_cuda(), op,
              ": segtools._ext was built without CUDA; rebuild it with "
              "`FORCE_CUDA=1 pip install --no-build-isolation -e .` on a machine with the CUDA toolkit");
  TORCH_CHECK(t.is_cpu() || t.is_cuda(), op, ": unsupported device ", t.device());
}

// on_cuda() for a CUDA tensor t, run with t's device current; on_cpu() for a CPU one. Any
// other device, or CUDA in a build without it, throws (check_device). Returns what the
// callable returns.
template <typename OnCpu, typename OnCuda>
decltype(auto) dispatch_device(const char* op, const at::Tensor& t, OnCpu&& on_cpu, [[maybe_unused]] OnCuda&& on_cuda) {
  check_device(op, t);
  if constexpr (kWithCuda) {
    if (t.is_cuda()) {
      const c10::DeviceGuard guard(t.device());
      return on_cuda();
    }
  }
  return on_cpu();
}

// at::empty_like(t) for a dense t (contiguous, say): the same sizes and strides. A method
// call, so that a dispatcher needs no ATen/ops/ header (ATen/ops/empty_like.h and its
// siblings pull in ATen/Context.h: two seconds of compile time each); likewise t.new_empty,
// t.new_zeros and t.new_empty_strided stand for at::empty, at::zeros and at::empty_strided
// with t.options().
inline at::Tensor empty_like_dense(const at::Tensor& t) { return t.new_empty_strided(t.sizes(), t.strides()); }

// A named argument of an op, for the checks below.
struct Arg {
  const char* name;
  const at::Tensor& tensor;
};

// The first of args is float32 or float64 on a device this build runs; the others have its
// dtype and device.
inline void check_dtype_device(const char* op, std::initializer_list<Arg> args) {
  const Arg& first = *args.begin();
  const at::Tensor& ref = first.tensor;
  check_device(op, ref);
  TORCH_CHECK(ref.scalar_type() == at::kFloat || ref.scalar_type() == at::kDouble, op, ": ", first.name,
              " must be float32 or float64, got ", ref.scalar_type());
  for (const Arg& arg : args) {
    const at::Tensor& t = arg.tensor;
    TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": ", arg.name, " must have ", first.name, "'s dtype ",
                ref.scalar_type(), ", got ", t.scalar_type());
    TORCH_CHECK(t.device() == ref.device(), op, ": ", arg.name, " must be on ", first.name, "'s device ", ref.device(),
                ", got ", t.device());
  }
}

inline void check_contiguous(const char* op, std::initializer_list<Arg> args) {
  for (const Arg& arg : args) TORCH_CHECK(arg.tensor.is_contiguous(), op, ": ", arg.name, " must be contiguous");
}

// One dimension of an expected shape: its name and, where another argument fixes it, its size.
struct Dim {
  const char* name;
  int64_t size = -1;  // -1: any size
};

// t has one dimension per entry of dims, each of the given size. The message spells the
// expected shape as "(K, D=6)".
inline void check_shape(const char* op, const char* name, const at::Tensor& t, std::initializer_list<Dim> dims) {
  bool ok = t.dim() == static_cast<int64_t>(dims.size());
  for (size_t i = 0; ok && i < dims.size(); ++i) {
    const int64_t size = dims.begin()[i].size;
    ok = size < 0 || t.size(static_cast<int64_t>(i)) == size;
  }
  if (ok) return;
  std::string expected = "(";
  for (const Dim& d : dims) {
    if (expected.size() > 1) expected += ", ";
    expected += d.name;
    if (d.size >= 0) expected += "=" + std::to_string(d.size);
  }
  TORCH_CHECK(false, op, ": ", name, " must have shape ", expected, "), got ", t.sizes());
}

}  // namespace segtools
