"""Builds segtools and its compiled extension ``segtools._ext``.

CPU kernels are always built. CUDA kernels (and ``-DWITH_CUDA``) are added when
torch sees a CUDA device and the toolkit is found, or when ``FORCE_CUDA=1``.
Build in place with ``pip install --no-build-isolation -e .``.
"""

import glob
import os

import torch
from setuptools import find_packages, setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(ROOT, 'csrc')


def with_cuda() -> bool:
    if os.getenv('FORCE_CUDA', '0') == '1':
        return True
    return torch.cuda.is_available() and CUDA_HOME is not None


def make_extension():
    # Relative source paths: setuptools requires them, and they keep build logs short.
    # csrc/*.cpp: bindings.cpp and the dispatchers, csrc/<op>.cpp.
    sources = sorted(glob.glob('csrc/*.cpp', root_dir=ROOT)) + sorted(glob.glob('csrc/cpu/*.cpp', root_dir=ROOT))
    # -fopenmp: at::parallel_for is inline and runs serially unless the calling file is
    # compiled with OpenMP; the extension then shares torch's already-loaded libgomp.
    # -g0: no debug information (Python's flags ask for -g), a quarter of bindings.cpp's compile time.
    extra_compile_args = {'cxx': ['-O3', '-fopenmp', '-g0']}
    define_macros = []
    extension = CppExtension
    if with_cuda():
        extension = CUDAExtension
        # The kernels (.cu) and csrc/cuda/stream.cpp, the one file that includes c10/cuda (launch.h).
        sources += sorted(glob.glob('csrc/cuda/*.cu', root_dir=ROOT))
        sources += sorted(glob.glob('csrc/cuda/*.cpp', root_dir=ROOT))
        define_macros.append(('WITH_CUDA', None))
        extra_compile_args['nvcc'] = ['-O3', '--expt-relaxed-constexpr', '-lineinfo']
    return extension(
        'segtools._ext',
        sources,
        include_dirs=[CSRC],
        define_macros=define_macros,
        extra_compile_args=extra_compile_args,
        extra_link_args=['-fopenmp'],
    )


def read_requirements(path: str) -> list[str]:
    """The requirement lines of ``path``, following ``-r other.txt`` includes (relative to it)."""
    requirements = []
    with open(os.path.join(ROOT, path)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith('-r '):
                requirements += read_requirements(os.path.join(os.path.dirname(path), line[3:].strip()))
            elif line:
                requirements.append(line)
    return requirements


setup(
    name='segtools',
    version='0.1.0',
    description='A registry-based semantic-segmentation toolbox with fused Encoding and SyncBN kernels',
    long_description=open(os.path.join(ROOT, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['segtools', 'segtools.*']),
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': read_requirements('requirements/tests.txt'),
        'deploy': read_requirements('requirements/deploy.txt'),
    },
    ext_modules=[make_extension()],
    cmdclass={'build_ext': BuildExtension.with_options(use_ninja=True)},
    zip_safe=False,
)
