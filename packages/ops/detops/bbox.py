"""Overlaps of axis-aligned boxes: torchvision's ``box_iou`` and MMDetection's
``bbox_overlaps`` (IoU, IoF, GIoU; pairwise or aligned; batch dimensions).

Boxes are (x1, y1, x2, y2) in pixels, no +1. The compiled kernel fuses the whole
computation into one parallel pass and has its own backward, so the overlaps can sit inside
losses (GIoU loss); without it the same expression runs as tensor operations.
float16/bfloat16 inputs are computed in float32 and the result cast back.
"""

from __future__ import annotations

import torch
from torch import Tensor

from detops import _backend
from detops._validation import check_choice, check_same_device, check_tensor, compute_dtype

_MODES = {"iou": 0, "iof": 1, "giou": 2}


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every box in ``boxes1`` (N, 4) with every box in ``boxes2`` (M, 4) -> (N, M),
    as ``torchvision.ops.box_iou`` (no epsilon: two empty boxes give NaN)."""
    check_tensor("boxes1", boxes1, shape=(None, 4), floating=True)
    check_tensor("boxes2", boxes2, shape=(None, 4), floating=True)
    check_same_device(boxes1=boxes1, boxes2=boxes2)
    return _overlaps(boxes1[None], boxes2[None], "iou", False, None)[0]


def bbox_overlaps(bboxes1: Tensor, bboxes2: Tensor, mode: str = "iou", is_aligned: bool = False,
                  eps: float = 1e-6) -> Tensor:
    """Overlaps between two sets of boxes, as MMDetection's ``bbox_overlaps``.

    Args:
        bboxes1: (..., N, 4) boxes.
        bboxes2: (..., M, 4) boxes with the same leading (batch) dimensions.
        mode: ``'iou'``, ``'iof'`` (intersection over the area of ``bboxes1``) or
            ``'giou'`` (generalised IoU, in [-1, 1]).
        is_aligned: compare ``bboxes1[i]`` with ``bboxes2[i]`` only (N must equal M).
        eps: lower bound of the union (and of the enclosing area for GIoU).

    Returns:
        (..., N, M) overlaps, or (..., N) when ``is_aligned``.
    """
    check_choice("mode", mode, _MODES)
    check_tensor("bboxes1", bboxes1, shape=(..., None, 4), floating=True)
    check_tensor("bboxes2", bboxes2, shape=(..., None, 4), floating=True)
    check_same_device(bboxes1=bboxes1, bboxes2=bboxes2)
    batch_shape = bboxes1.shape[:-2]
    if bboxes2.shape[:-2] != batch_shape:
        raise ValueError("bboxes1 and bboxes2 must have the same batch dimensions, got "
                         f"{tuple(bboxes1.shape)} and {tuple(bboxes2.shape)}")
    rows, cols = bboxes1.shape[-2], bboxes2.shape[-2]
    if is_aligned and rows != cols:
        raise ValueError(f"is_aligned=True needs as many bboxes1 as bboxes2, got {rows} and {cols}")
    batch = batch_shape.numel()
    flat1 = bboxes1.reshape(batch, rows, 4)
    flat2 = bboxes2.reshape(batch, cols, 4)
    out = _overlaps(flat1, flat2, mode, is_aligned, float(eps))
    return out.reshape(batch_shape + ((rows,) if is_aligned else (rows, cols)))


def _overlaps(boxes1: Tensor, boxes2: Tensor, mode: str, aligned: bool,
              eps: float | None) -> Tensor:
    """(B, N, 4) and (B, M, 4) -> (B, N, M), or (B, N) when aligned, in the input dtype."""
    dtype = boxes1.dtype
    work = compute_dtype(torch.promote_types(dtype, boxes2.dtype))
    boxes1 = boxes1.to(work).contiguous()
    boxes2 = boxes2.to(work).contiguous()
    if _backend.use_kernel("box_overlaps", boxes1, boxes2):
        out = torch.ops.detops.box_overlaps(boxes1, boxes2, _MODES[mode], aligned, eps)
    else:
        out = overlaps_torch(boxes1, boxes2, mode, aligned, eps)
    return out.to(dtype)


def overlaps_torch(boxes1: Tensor, boxes2: Tensor, mode: str = "iou", aligned: bool = False,
                   eps: float | None = None) -> Tensor:
    """The pure-PyTorch overlaps: (..., N, 4), (..., M, 4) -> (..., N, M) or (..., N).

    The arithmetic (and its order) is MMDetection's; with ``eps=None`` and mode 'iou' it
    is torchvision's box_iou, which NMS relies on to reproduce torchvision's decisions.
    """
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    if aligned:
        lt = torch.max(boxes1[..., :2], boxes2[..., :2])
        rb = torch.min(boxes1[..., 2:], boxes2[..., 2:])
    else:
        lt = torch.max(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
        rb = torch.min(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
        area1 = area1[..., None]
        area2 = area2[..., None, :]
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1 if mode == "iof" else area1 + area2 - inter
    if eps is not None:
        union = torch.max(union, union.new_tensor([eps]))
    ious = inter / union
    if mode != "giou":
        return ious
    if aligned:
        enclosed_lt = torch.min(boxes1[..., :2], boxes2[..., :2])
        enclosed_rb = torch.max(boxes1[..., 2:], boxes2[..., 2:])
    else:
        enclosed_lt = torch.min(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
        enclosed_rb = torch.max(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    enclose_wh = (enclosed_rb - enclosed_lt).clamp(min=0)
    enclose = enclose_wh[..., 0] * enclose_wh[..., 1]
    if eps is not None:
        enclose = torch.max(enclose, enclose.new_tensor([eps]))
    return ious - (enclose - union) / enclose


def _setup_context(ctx, inputs, output):
    boxes1, boxes2, mode, aligned, eps = inputs
    ctx.save_for_backward(boxes1, boxes2)
    ctx.options = (mode, aligned, eps)


def _backward(ctx, grad):
    boxes1, boxes2 = ctx.saved_tensors
    grad1, grad2 = torch.ops.detops.box_overlaps_backward(grad.contiguous(), boxes1, boxes2,
                                                          *ctx.options)
    return grad1, grad2, None, None, None


if _backend.has_op("box_overlaps"):
    @torch.library.register_fake("detops::box_overlaps")
    def _(boxes1, boxes2, mode, aligned, eps):
        shape = boxes1.shape[:2] if aligned else (*boxes1.shape[:2], boxes2.shape[1])
        return boxes1.new_empty(shape)

    @torch.library.register_fake("detops::box_overlaps_backward")
    def _(grad, boxes1, boxes2, mode, aligned, eps):
        return torch.empty_like(boxes1), torch.empty_like(boxes2)

    torch.library.register_autograd("detops::box_overlaps", _backward,
                                    setup_context=_setup_context)
