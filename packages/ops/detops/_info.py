"""``detops.info()``: which implementation serves each public op on each device."""

from __future__ import annotations

import torch

from detops import _backend

# public op -> compiled operators (torch.ops.detops.*) it runs on; () = tensor code only.
OP_KERNELS: dict[str, tuple[str, ...]] = {
    "nms": ("nms",),
    "batched_nms": ("batched_nms",),
    "soft_nms": ("soft_nms",),
    "nms_match": ("nms_match",),
    "multiclass_nms": ("batched_nms",),
    "fast_nms": ("box_overlaps",),
    "matrix_nms": (),
    "box_iou": ("box_overlaps",),
    "bbox_overlaps": ("box_overlaps", "box_overlaps_backward"),
    "box_iou_rotated": ("box_iou_rotated",),
    "nms_rotated": ("nms_rotated",),
    "sigmoid_focal_loss": ("sigmoid_focal_loss_forward", "sigmoid_focal_loss_backward"),
    "roi_align": ("roi_align", "roi_align_backward"),
    "roi_pool": ("roi_pool", "roi_pool_backward"),
    "deform_conv2d": ("deform_conv2d", "deform_conv2d_backward"),
    "multi_scale_deformable_attn": ("ms_deform_attn", "ms_deform_attn_backward"),
}

# Ops whose sequential sweep always runs on the CPU (CUDA tensors are copied there and back).
CPU_ONLY = {"soft_nms", "nms_match"}


def info() -> dict[str, dict[str, str]]:
    """Map each public op to ``{'cpu': ..., 'cuda': ...}``.

    'compiled' means a detops kernel serves tensors on that device, 'torch' that the
    pure-PyTorch implementation does, 'n/a' that no CUDA device is usable and no CUDA kernel
    was built. ``detops._backend.LOAD_ERROR`` says why the kernels failed to load, if they did.
    """
    cuda_available = torch.cuda.is_available()
    report = {}
    for op, kernels in sorted(OP_KERNELS.items()):
        cpu = _served_by(kernels, "cpu")
        if op in CPU_ONLY:
            cuda = cpu if cuda_available else "n/a"
        else:
            cuda = _served_by(kernels, "cuda")
            if cuda == "torch" and not cuda_available:
                cuda = "n/a"
        report[op] = {"cpu": cpu, "cuda": cuda}
    return report


def _served_by(kernels: tuple[str, ...], device_type: str) -> str:
    compiled = bool(kernels) and all(_backend.has_kernel(k, device_type) for k in kernels)
    return "compiled" if compiled else "torch"
