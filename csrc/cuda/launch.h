// What the CUDA launchers (csrc/cuda/<op>_cuda.cu) use from torch: the current stream and an error
// check, without c10/cuda's headers, which cost each .cu file about 5 s of nvcc time (sync_bn_cuda.cu:
// 7.3 s with them, 2.5 s without). The dispatchers (csrc/<op>.cpp) have already made the tensor's
// device current (dispatch_device in csrc/dispatch.h) when a launcher runs.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace segtools {

// c10::cuda::getCurrentCUDAStream() of the current device (csrc/cuda/stream.cpp, compiled by the
// host compiler in CUDA builds).
cudaStream_t current_cuda_stream();

// Throws std::runtime_error (a RuntimeError in Python) naming what failed when err is not cudaSuccess.
inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("segtools CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

}  // namespace segtools

// After a kernel launch: reports a bad launch configuration (and earlier asynchronous errors).
#define SEGTOOLS_KERNEL_LAUNCH_CHECK() ::segtools::check_cuda(cudaGetLastError(), __func__)
