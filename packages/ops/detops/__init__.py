"""detops: detection operators with compiled C++/CUDA kernels and pure-PyTorch fallbacks.

Signatures follow torchvision.ops where torchvision has the op, MMCV/MMDetection otherwise.
``detops.info()`` says which implementation serves each op on each device.

Names are imported on first use, so that importing ``detops`` (or its detcore plugin
module) does not load torch and the kernels. Module names differ from the function names
they hold (``detops.nms`` is the function, found in ``detops.suppression``).
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "nms": "detops.suppression",
    "batched_nms": "detops.suppression",
    "soft_nms": "detops.suppression",
    "nms_match": "detops.suppression",
    "multiclass_nms": "detops.postprocess",
    "fast_nms": "detops.postprocess",
    "matrix_nms": "detops.postprocess",
    "mask_matrix_nms": "detops.postprocess",
    "box_iou": "detops.bbox",
    "bbox_overlaps": "detops.bbox",
    "box_iou_rotated": "detops.rotated",
    "nms_rotated": "detops.rotated",
    "sigmoid_focal_loss": "detops.focal_loss",
    "roi_align": "detops.roi_ops",
    "roi_pool": "detops.roi_ops",
    "RoIAlign": "detops.roi_ops",
    "RoIPool": "detops.roi_ops",
    "deform_conv2d": "detops.deform_conv",
    "DeformConv2d": "detops.deform_conv",
    "ModulatedDeformConv2d": "detops.deform_conv",
    "DeformConv2dPack": "detops.deform_conv",
    "ModulatedDeformConv2dPack": "detops.deform_conv",
    "multi_scale_deformable_attn": "detops.ms_deform_attn",
    "multi_scale_deformable_attn_pytorch": "detops.ms_deform_attn",
    "info": "detops._info",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:  # e.g. detops._backend
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'detops' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
