"""Build detops' kernels: C++ for the CPU always, CUDA when asked for or when a GPU is visible.

torch must be importable at build time, so install with build isolation off:
    pip install torch && pip install --no-build-isolation ./packages/ops
Without torch or a compiler the package still installs: every op then runs its
pure-PyTorch fallback, and `import detops` says so once.

Environment switches:
    DETOPS_WITH_CUDA=1        compile the CUDA kernels too (e.g. wheels built without a GPU)
    DETOPS_WITH_CUDA=0        never compile them
    DETOPS_REQUIRE_COMPILED=1 fail the install instead of falling back (CI uses it)
    MAX_JOBS=N                parallel compile jobs (ninja)
"""

import glob
import os
import warnings

from setuptools import setup


def _require_compiled() -> bool:
    return os.environ.get("DETOPS_REQUIRE_COMPILED") == "1"


def _pip_cuda_include_dirs() -> list[str]:
    """Header folders of the CUDA libraries torch installs from PyPI (nvidia-*): a minimal
    toolkit (just nvcc) lacks some headers ATen's CUDA headers include, such as cusparse.h."""
    import importlib.util

    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(str(d) for root in spec.submodule_search_locations
                  for d in glob.glob(os.path.join(root, "*", "include")))


def _prefer_standard_cuda_home() -> None:
    """torch takes CUDA_HOME from the nvcc on PATH when the variable is unset; a wrapper
    script such as /usr/local/bin/nvcc then yields /usr/local, where libcudart is missing.
    Point it at the conventional /usr/local/cuda instead when that toolkit exists."""
    if "CUDA_HOME" not in os.environ and "CUDA_PATH" not in os.environ \
            and os.path.exists("/usr/local/cuda/bin/nvcc"):
        os.environ["CUDA_HOME"] = "/usr/local/cuda"


def build_config():
    _prefer_standard_cuda_home()
    try:
        import torch
        from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension
    except ImportError:
        if _require_compiled():
            raise
        warnings.warn("detops: torch is not importable at build time (pip's build isolation?); "
                      "installing the pure-PyTorch fallbacks only. Reinstall with "
                      "`pip install --no-build-isolation` to compile the kernels.", stacklevel=2)
        return [], {}

    switch = os.environ.get("DETOPS_WITH_CUDA")
    if switch is None:
        with_cuda = torch.cuda.is_available() and CUDA_HOME is not None
    else:
        with_cuda = switch == "1"

    sources = sorted(glob.glob("csrc/*.cpp"))
    macros = []
    # at::parallel_for is OpenMP-based in torch's CPU builds: without -fopenmp it runs serially.
    # -g0 drops the debug info that Python's CFLAGS ask for: it slows the build and bloats _C.
    extra = {"cxx": ["-O3", "-g0", "-std=c++20", "-fopenmp"]}
    if with_cuda:
        sources += sorted(glob.glob("csrc/cuda/*.cu"))
        macros.append(("DETOPS_WITH_CUDA", "1"))
        extra["nvcc"] = ["-O3", "-std=c++20", "--expt-relaxed-constexpr"]
    make = CUDAExtension if with_cuda else CppExtension
    ext = make("detops._C", sources, define_macros=macros, extra_compile_args=extra,
               extra_link_args=["-fopenmp"],
               include_dirs=_pip_cuda_include_dirs() if with_cuda else [])

    class BuildOrFallBack(BuildExtension):
        """A failed compile leaves the pure-PyTorch fallbacks in place instead of failing."""

        def build_extension(self, extension):
            try:
                super().build_extension(extension)
            except Exception as err:
                if _require_compiled():
                    raise
                warnings.warn(f"detops: compiling the kernels failed ({err}); installing the "
                              "pure-PyTorch fallbacks only.", stacklevel=2)

    return [ext], {"build_ext": BuildOrFallBack}


ext_modules, cmdclass = build_config()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
