"""Rotated boxes (x_center, y_center, width, height, angle in radians): MMCV's
box_iou_rotated and nms_rotated.

With ``clockwise=True`` (MMCV's default) a positive angle turns the box clockwise on the
image (y pointing down): its corners are centre + R(angle) (+-w/2, +-h/2). Boxes with zero
area overlap nothing. Neither op is differentiable (as in MMCV). float16/bfloat16 are
computed in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from detops import _backend
from detops._validation import (
    check_choice,
    check_same_device,
    check_same_length,
    check_tensor,
    compute_dtype,
)
from detops.suppression import greedy_keep

_MODES = ("iou", "iof")


def box_iou_rotated(bboxes1: Tensor, bboxes2: Tensor, mode: str = "iou", aligned: bool = False,
                    clockwise: bool = True) -> Tensor:
    """IoU (or IoF, over the area of ``bboxes1``) of rotated boxes.

    Args:
        bboxes1: (N, 5) boxes.
        bboxes2: (M, 5) boxes.
        mode: 'iou' or 'iof'.
        aligned: compare bboxes1[i] with bboxes2[i] only (N must equal M).
        clockwise: whether a positive angle turns the box clockwise on the image.

    Returns:
        (N, M), or (N,) when aligned.
    """
    check_choice("mode", mode, _MODES)
    check_tensor("bboxes1", bboxes1, shape=(None, 5), floating=True)
    check_tensor("bboxes2", bboxes2, shape=(None, 5), floating=True)
    check_same_device(bboxes1=bboxes1, bboxes2=bboxes2)
    if aligned:
        check_same_length(bboxes1=bboxes1, bboxes2=bboxes2)
    dtype = bboxes1.dtype
    boxes1 = _clockwise(bboxes1, clockwise, compute_dtype(dtype))
    boxes2 = _clockwise(bboxes2, clockwise, compute_dtype(dtype))
    if _backend.use_kernel("box_iou_rotated", boxes1, boxes2):
        out = torch.ops.detops.box_iou_rotated(boxes1, boxes2, mode == "iof", aligned)
    else:
        out = rotated_overlaps_torch(boxes1, boxes2, mode == "iof", aligned)
    return out.to(dtype)


def nms_rotated(dets: Tensor, scores: Tensor, iou_threshold: float, labels: Tensor | None = None,
                clockwise: bool = True) -> tuple[Tensor, Tensor]:
    """Greedy NMS on rotated boxes: a box is dropped when its IoU with a kept, higher-scored
    box (of the same label, when ``labels`` is given) is greater than ``iou_threshold``.

    Args:
        dets: (N, 5) rotated boxes.
        scores: (N,) scores.
        iou_threshold: IoU above which the lower-scored box is dropped.
        labels: (N,) class labels; boxes of different labels never suppress each other.
        clockwise: whether a positive angle turns the box clockwise on the image.

    Returns:
        dets (K, 6): the kept boxes with their score appended; keep (K,) their indices, in
        descending score order (equal scores in index order). MMCV returns ``None`` for keep
        when there are no boxes; this returns an empty tensor.
    """
    check_tensor("dets", dets, shape=(None, 5), floating=True)
    check_tensor("scores", scores, shape=(None,), floating=True)
    check_same_length(dets=dets, scores=scores)
    check_same_device(dets=dets, scores=scores, labels=labels)
    if labels is not None:
        check_tensor("labels", labels, shape=(None,), integer=True)
        check_same_length(dets=dets, labels=labels)
        labels = labels.to(torch.int64).contiguous()
    work = compute_dtype(dets.dtype)
    boxes = _clockwise(dets, clockwise, work)
    work_scores = scores.to(work).contiguous()
    tensors = [t for t in (boxes, work_scores, labels) if t is not None]
    if _backend.use_kernel("nms_rotated", *tensors):
        keep = torch.ops.detops.nms_rotated(boxes, work_scores, labels, float(iou_threshold))
    else:
        keep = _nms_rotated_torch(boxes, work_scores, labels, float(iou_threshold))
    return torch.cat([dets[keep], scores[keep, None].to(dets.dtype)], 1), keep


def _clockwise(boxes: Tensor, clockwise: bool, dtype: torch.dtype) -> Tensor:
    """Boxes in the compute dtype, contiguous, with angles in the clockwise convention."""
    boxes = boxes.to(dtype)
    if not clockwise:
        boxes = torch.cat([boxes[:, :4], -boxes[:, 4:]], 1)
    return boxes.contiguous()


def _corners(boxes: Tensor) -> Tensor:
    """(..., 5) rotated boxes -> (..., 4, 2) corners, counter-clockwise (positive area)."""
    cos, sin = torch.cos(boxes[..., 4]), torch.sin(boxes[..., 4])
    half_w, half_h = boxes[..., 2] / 2, boxes[..., 3] / 2
    local_x = torch.stack([-half_w, half_w, half_w, -half_w], -1)
    local_y = torch.stack([-half_h, -half_h, half_h, half_h], -1)
    x = boxes[..., 0, None] + cos[..., None] * local_x - sin[..., None] * local_y
    y = boxes[..., 1, None] + sin[..., None] * local_x + cos[..., None] * local_y
    return torch.stack([x, y], -1)


def _cross(a: Tensor, b: Tensor) -> Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def rotated_overlaps_torch(boxes1: Tensor, boxes2: Tensor, iof: bool = False,
                           aligned: bool = False) -> Tensor:
    """Pure-PyTorch rotated IoU/IoF: (N, 5), (M, 5) -> (N, M), or (N,) when aligned.

    The intersection polygon's vertices are the crossings of the two outlines plus the
    corners of each box inside the other; sorted by angle around their mean, their
    shoelace sum is the intersection area.
    """
    if not aligned:
        boxes1, boxes2 = boxes1[:, None], boxes2[None]
        boxes1, boxes2 = torch.broadcast_tensors(boxes1, boxes2)
    # work relative to the midpoint of the centres (precision far from the origin)
    middle = torch.cat([(boxes1[..., :2] + boxes2[..., :2]) / 2,
                        boxes1.new_zeros(boxes1.shape[:-1] + (3,))], -1)
    a, b = _corners(boxes1 - middle), _corners(boxes2 - middle)  # (..., 4, 2)
    edges_a, edges_b = a.roll(-1, -2) - a, b.roll(-1, -2) - b

    # crossings of edge i of a with edge j of b: a_i + t e_i = b_j + u f_j
    e, f = edges_a[..., :, None, :], edges_b[..., None, :, :]
    offset = b[..., None, :, :] - a[..., :, None, :]
    denom = _cross(e, f)
    safe = torch.where(denom == 0, torch.ones_like(denom), denom)
    t, u = _cross(offset, f) / safe, _cross(offset, e) / safe
    crossing_ok = (denom != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (a[..., :, None, :] + t[..., None] * e).flatten(-3, -2)

    def inside(points: Tensor, corners: Tensor, edges: Tensor) -> Tensor:
        # points (..., 4, 2) inside the convex, counter-clockwise polygon (corners, edges)
        rel = points[..., :, None, :] - corners[..., None, :, :]
        return (_cross(edges[..., None, :, :], rel) >= 0).all(-1)

    points = torch.cat([crossings, a, b], -2)  # (..., 24, 2)
    valid = torch.cat([crossing_ok.flatten(-2), inside(a, b, edges_b), inside(b, a, edges_a)], -1)

    count = valid.sum(-1, keepdim=True)
    centre = (points * valid[..., None]).sum(-2) / count.clamp(min=1)
    rel = points - centre[..., None, :]
    angle = torch.where(valid, torch.atan2(rel[..., 1], rel[..., 0]), torch.inf)
    order = angle.argsort(-1)
    ring = torch.gather(rel, -2, order[..., None].expand_as(rel))
    position = torch.arange(points.shape[-2], device=points.device)
    following = torch.where(position + 1 < count, position + 1, 0)
    following_points = torch.gather(ring, -2, following[..., None].expand_as(ring))
    terms = torch.where(position < count, _cross(ring, following_points), 0)
    inter = torch.where(count[..., 0] > 2, terms.sum(-1).abs() / 2, 0)

    area1 = boxes1[..., 2] * boxes1[..., 3]
    area2 = boxes2[..., 2] * boxes2[..., 3]
    overlap = inter / (area1 if iof else area1 + area2 - inter)
    return torch.where((area1 < 1e-14) | (area2 < 1e-14), 0, overlap)


def _nms_rotated_torch(boxes: Tensor, scores: Tensor, labels: Tensor | None,
                       iou_threshold: float) -> Tensor:
    order = torch.argsort(scores, descending=True, stable=True)
    ranked = boxes[order]
    suppresses = rotated_overlaps_torch(ranked, ranked) > iou_threshold
    if labels is not None:
        ranked_labels = labels[order]
        suppresses &= ranked_labels[:, None] == ranked_labels[None, :]
    candidate = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    return order[greedy_keep(suppresses, candidate)]


if _backend.has_op("box_iou_rotated"):
    @torch.library.register_fake("detops::box_iou_rotated")
    def _(boxes1, boxes2, iof, aligned):
        return boxes1.new_empty(boxes1.shape[:1] if aligned else (boxes1.shape[0],
                                                                   boxes2.shape[0]))

    @torch.library.register_fake("detops::nms_rotated")
    def _(boxes, scores, labels, iou_threshold):
        return boxes.new_empty((torch.library.get_ctx().new_dynamic_size(),), dtype=torch.int64)
