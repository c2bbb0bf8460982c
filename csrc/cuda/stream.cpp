// The one place the CUDA code includes c10/cuda: compiled once by the host compiler, so that the
// .cu files need only cuda_runtime.h (csrc/cuda/launch.h).
#include <c10/cuda/CUDAStream.h>

#include "launch.h"

namespace segtools {

cudaStream_t current_cuda_stream() { return c10::cuda::getCurrentCUDAStream(); }

}  // namespace segtools
