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

# torch.device.type -> the dispatch key a kernel registers under (TORCH_LIBRARY_IMPL).
_DISPATCH_KEYS = {"cpu": "CPU", "cuda": "CUDA"}


def has_op(name: str) -> bool:
    """True when the compiled extension defines the operator ``detops::name``."""
    return COMPILED and hasattr(torch.ops.detops, name)


def has_kernel(name: str, device_type: str = "cpu") -> bool:
    """True when a compiled kernel ``detops::name`` is registered for ``device_type``."""
    if not has_op(name):
        return False
    key = _DISPATCH_KEYS.get(device_type)
    return key is not None and torch._C._dispatch_has_kernel_for_dispatch_key(f"detops::{name}",
                                                                             key)


# Kernels with an ONNX translation (torch.onnx.register_custom_op_symbolic); while exporting
# to ONNX every other op runs its pure-PyTorch implementation, which exports as plain ONNX.
ONNX_TRANSLATED: set[str] = set()


def use_kernel(name: str, *tensors: torch.Tensor) -> bool:
    """Whether to run the compiled kernel ``name`` on these tensors: it is registered for
    their device (and, during ONNX export, has an ONNX translation). Tensors on different
    devices get the fallback, whose torch ops then raise the usual device error."""
    if torch.onnx.is_in_onnx_export() and name not in ONNX_TRANSLATED:
        return False
    devices = {t.device.type for t in tensors}
    return len(devices) == 1 and has_kernel(name, devices.pop())
