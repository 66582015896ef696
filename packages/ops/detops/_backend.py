"""Loads the compiled kernels once and says which implementation serves each op.

The kernels register themselves as ``torch.ops.detops.<name>`` when ``detops._C`` is
imported. If that fails (no compiler at install time, an ABI mismatch), every op falls
back to its pure-PyTorch implementation and a single warning says so.
"""

from __future__ import annotations

import warnings

import torch

try:
    from detops import _C

    COMPILED = True
    WITH_CUDA = bool(_C.WITH_CUDA)
    LOAD_ERROR: str | None = None
except ImportError as err:
    COMPILED = False
    WITH_CUDA = False
    LOAD_ERROR = f"{type(err).__name__}: {err}"
    warnings.warn("detops: compiled kernels are not available "
                  f"({LOAD_ERROR}); using the pure-PyTorch fallbacks. Reinstall detops with "
                  "`pip install --no-build-isolation` where a C++ compiler is present.",
                  RuntimeWarning, stacklevel=2)


def has_kernel(name: str) -> bool:
    """True when a compiled kernel called ``name`` is registered under torch.ops.detops."""
    return COMPILED and hasattr(torch.ops.detops, name)


def use_kernel(name: str, *tensors: torch.Tensor) -> bool:
    """Whether to run the compiled kernel for these inputs: it exists and, for CUDA tensors,
    was built with CUDA support."""
    if not has_kernel(name):
        return False
    return all(t.device.type == "cpu" for t in tensors) or WITH_CUDA
