"""IoU, IoF and GIoU between two sets of xyxy boxes, with MMDetection's semantics.

Memory: the pairwise case needs several (..., m, n) temporaries. When ``m * n`` (times the
batch size) exceeds ``max_elements`` the rows of ``bboxes1`` are processed in chunks, so
peak memory stays near ``max_elements`` floats per temporary whatever the input size.

Precision: float16/bfloat16 inputs are computed in float32 (chunk by chunk) and the result
is returned in the input dtype. This keeps the memory saving of a half-precision result
while avoiding overflow (a 300 x 300 box already has an area above float16's maximum)
and the missing half-precision kernels of some CPU builds. Integer inputs give float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

OVERLAP_MODES = ("iou", "iof", "giou")
#: Default bound on the number of box pairs processed at once (about 64 MiB per float32 temporary).
DEFAULT_MAX_ELEMENTS = 1 << 24


def bbox_overlaps(
    bboxes1: Tensor,
    bboxes2: Tensor,
    mode: str = "iou",
    is_aligned: bool = False,
    eps: float = 1e-6,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> Tensor:
    """Overlaps between (..., m, 4) ``bboxes1`` and (..., n, 4) ``bboxes2`` (xyxy).

    Args:
        bboxes1, bboxes2: boxes with the same leading batch dimensions; an empty set may be
            given as (0, 4) or (0,).
        mode: ``'iou'`` (intersection over union), ``'iof'`` (intersection over the area of
            ``bboxes1``, the "foreground") or ``'giou'`` (generalized IoU, in [-1, 1]).
        is_aligned: compare the i-th box of ``bboxes1`` with the i-th of ``bboxes2`` only
            (needs m == n) instead of every pair.
        eps: lower bound of the denominators (union, area, enclosing area), so degenerate
            boxes give 0 instead of NaN.
        max_elements: process at most this many box pairs at once; ``None`` disables
            chunking.

    Returns:
        (..., m, n) overlaps, or (..., m) when ``is_aligned``.

    Examples:
        >>> bboxes1 = torch.tensor([[0., 0., 10., 10.], [10., 10., 20., 20.]])
        >>> bboxes2 = torch.tensor([[0., 0., 10., 20.], [10., 10., 20., 20.]])
        >>> bbox_overlaps(bboxes1, bboxes2)
        tensor([[0.5000, 0.0000],
                [0.0000, 1.0000]])
    """
    if mode not in OVERLAP_MODES:
        raise ValueError(f"mode must be one of {OVERLAP_MODES}, but got {mode!r}")
    bboxes1 = _check_boxes(bboxes1, "bboxes1")
    bboxes2 = _check_boxes(bboxes2, "bboxes2")
    if bboxes1.shape[:-2] != bboxes2.shape[:-2]:
        raise ValueError(
            f"bboxes1 and bboxes2 must have the same batch dimensions, but got shapes "
            f"{tuple(bboxes1.shape)} and {tuple(bboxes2.shape)}"
        )
    batch_shape = bboxes1.shape[:-2]
    rows, cols = bboxes1.size(-2), bboxes2.size(-2)
    if is_aligned and rows != cols:
        raise ValueError(
            f"is_aligned=True needs as many bboxes1 as bboxes2, but got {rows} and {cols}"
        )

    out_dtype = torch.promote_types(bboxes1.dtype, bboxes2.dtype)
    if not out_dtype.is_floating_point:
        out_dtype = torch.float32
    compute_dtype = torch.float32 if out_dtype in (torch.float16, torch.bfloat16) else out_dtype
    out_shape = (*batch_shape, rows) if is_aligned else (*batch_shape, rows, cols)
    if rows * cols * batch_shape.numel() == 0:
        return bboxes1.new_zeros(out_shape, dtype=out_dtype)

    bboxes1 = bboxes1.to(compute_dtype)
    bboxes2 = bboxes2.to(compute_dtype)
    if is_aligned:
        return _overlaps(bboxes1, bboxes2, mode, eps).to(out_dtype)

    pairs_per_row = cols * batch_shape.numel()
    rows_per_chunk = rows if max_elements is None else max(1, max_elements // pairs_per_row)
    pairs2 = bboxes2[..., None, :, :]
    if rows_per_chunk >= rows:
        return _overlaps(bboxes1[..., :, None, :], pairs2, mode, eps).to(out_dtype)
    overlaps = bboxes1.new_empty(out_shape, dtype=out_dtype)
    for start in range(0, rows, rows_per_chunk):
        chunk = bboxes1[..., start : start + rows_per_chunk, None, :]
        overlaps[..., start : start + rows_per_chunk, :] = _overlaps(chunk, pairs2, mode, eps)
    return overlaps


def _check_boxes(boxes: Tensor, name: str) -> Tensor:
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, but got {type(boxes).__name__}")
    if boxes.dim() == 1 and boxes.numel() == 0:
        return boxes.reshape(0, 4)
    if boxes.dim() < 2 or (boxes.size(-1) != 4 and boxes.numel() > 0):
        raise ValueError(f"{name} must have shape (..., n, 4), but got {tuple(boxes.shape)}")
    return boxes


def _overlaps(boxes1: Tensor, boxes2: Tensor, mode: str, eps: float) -> Tensor:
    """Element-wise overlaps of two broadcastable (..., 4) box tensors."""
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    inter_w = (
        torch.minimum(boxes1[..., 2], boxes2[..., 2])
        - torch.maximum(boxes1[..., 0], boxes2[..., 0])
    ).clamp(min=0)
    inter_h = (
        torch.minimum(boxes1[..., 3], boxes2[..., 3])
        - torch.maximum(boxes1[..., 1], boxes2[..., 1])
    ).clamp(min=0)
    intersection = inter_w * inter_h
    if mode == "iof":
        return intersection / area1.clamp(min=eps)
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    union = (area1 + area2 - intersection).clamp(min=eps)
    ious = intersection / union
    if mode == "iou":
        return ious
    enclose_w = (
        torch.maximum(boxes1[..., 2], boxes2[..., 2])
        - torch.minimum(boxes1[..., 0], boxes2[..., 0])
    ).clamp(min=0)
    enclose_h = (
        torch.maximum(boxes1[..., 3], boxes2[..., 3])
        - torch.minimum(boxes1[..., 1], boxes2[..., 1])
    ).clamp(min=0)
    enclose_area = (enclose_w * enclose_h).clamp(min=eps)
    return ious - (enclose_area - union) / enclose_area
