"""Greedy non-maximum suppression: torchvision's nms and batched_nms, MMCV's soft_nms and
nms_match.

Boxes are (N, 4) xyxy. nms and batched_nms return the same indices as torchvision (IoU >
threshold suppresses; equal scores keep index order) in descending score order. The
compiled kernels sort once and compare each box only with the boxes already kept; without
them a blockwise tensor version runs. float16/bfloat16 boxes and scores are compared in
float32.
"""

from __future__ import annotations

import math

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
from detops.bbox import overlaps_torch

# Above this many boxes the fallback batched_nms runs one nms per class instead of shifting
# the classes apart (torchvision switches at boxes.numel() > 4000 on the CPU, 100k on CUDA).
PER_CLASS_LOOP_ABOVE = {"cpu": 1000, "cuda": 25_000}

_SOFT_NMS_METHODS = {"naive": 0, "linear": 1, "gaussian": 2}


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Indices (K,) int64 of the boxes kept by greedy NMS, in descending score order.

    Args:
        boxes: (N, 4) xyxy boxes.
        scores: (N,) scores.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scored box is
            greater than this.
    """
    boxes, scores = _check_boxes_scores(boxes, scores)
    if _backend.use_kernel("nms", boxes, scores):
        return torch.ops.detops.nms(boxes, scores, float(iou_threshold))
    return _nms_torch(boxes, scores, float(iou_threshold))


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each category of ``idxs`` (N,): boxes of different categories never
    suppress each other. Returns kept indices (K,) in descending score order.

    The compiled path groups boxes by category and runs the categories in parallel at every
    size. The fallback follows torchvision: it shifts each category's boxes apart and runs
    one NMS for up to ``PER_CLASS_LOOP_ABOVE[device]`` boxes, one NMS per category above.
    """
    boxes, scores = _check_boxes_scores(boxes, scores)
    check_tensor("idxs", idxs, shape=(None,), integer=True)
    check_same_length(boxes=boxes, idxs=idxs)
    check_same_device(boxes=boxes, idxs=idxs)
    idxs = idxs.to(torch.int64).contiguous()
    if _backend.use_kernel("batched_nms", boxes, scores, idxs):
        return torch.ops.detops.batched_nms(boxes, scores, idxs, float(iou_threshold))
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    per_class = boxes.shape[0] > PER_CLASS_LOOP_ABOVE.get(boxes.device.type, 1000)
    if per_class and not torch.jit.is_tracing():  # a traced graph keeps the loop-free form
        return _batched_nms_per_class(boxes, scores, idxs, float(iou_threshold))
    return _batched_nms_shifted(boxes, scores, idxs, float(iou_threshold))


def soft_nms(boxes: Tensor, scores: Tensor, iou_threshold: float = 0.3, sigma: float = 0.5,
             min_score: float = 1e-3, method: str = "linear",
             offset: int = 0) -> tuple[Tensor, Tensor]:
    """Soft-NMS (Bodla et al., 2017) with MMCV's rules: instead of dropping overlapping
    boxes, decay their scores, and drop a box once its score falls below ``min_score``.

    Args:
        boxes: (N, 4) xyxy boxes.
        scores: (N,) scores.
        iou_threshold: for 'linear' and 'naive', boxes overlapping a kept box with IoU >=
            this are decayed (by 1 - IoU) or dropped.
        sigma: for 'gaussian', scores are multiplied by exp(-IoU**2 / sigma).
        min_score: boxes whose decayed score is below this are dropped.
        method: 'linear', 'gaussian' or 'naive'.
        offset: 0 or 1; box width is x2 - x1 + offset (1 for legacy pixel boxes).

    Returns:
        dets (K, 5): kept boxes with their decayed scores, in the order they were taken
        (decreasing score); keep (K,): their indices. Among exactly equal scores the lower
        index goes first (MMCV leaves that order to its swap-based loop).
    """
    dtype = boxes.dtype
    boxes, scores = _check_boxes_scores(boxes, scores)
    check_choice("method", method, _SOFT_NMS_METHODS)
    check_choice("offset", offset, (0, 1))
    if method == "gaussian" and sigma <= 0:
        raise ValueError(f"sigma must be positive for the gaussian method, got {sigma}")
    device = boxes.device
    # The sweep is sequential: it runs on the CPU for every input, as in MMCV.
    cpu_boxes, cpu_scores = boxes.cpu(), scores.cpu()
    args = (float(iou_threshold), float(sigma), float(min_score), _SOFT_NMS_METHODS[method],
            int(offset))
    if _backend.use_kernel("soft_nms", cpu_boxes, cpu_scores):
        dets, keep = torch.ops.detops.soft_nms(cpu_boxes, cpu_scores, *args)
    else:
        dets, keep = _soft_nms_torch(cpu_boxes, cpu_scores, *args)
    return dets.to(device=device, dtype=dtype), keep.to(device)


def nms_match(dets: Tensor, iou_threshold: float) -> list[Tensor]:
    """Greedy NMS that records which kept box suppressed each box (IoU >= threshold), as
    MMCV's nms_match.

    Args:
        dets: (N, 5) boxes with scores (x1, y1, x2, y2, score).
        iou_threshold: IoU at or above which a box joins the group of the kept box.

    Returns:
        One int64 tensor per kept box, in descending score order: the kept box's index
        followed by the indices it suppressed, in descending score order.
    """
    check_tensor("dets", dets, shape=(None, 5), floating=True)
    device = dets.device
    work = dets.detach().cpu().to(compute_dtype(dets.dtype)).contiguous()
    if work.shape[0] == 0:
        return []
    if _backend.use_kernel("nms_match", work):
        members, sizes = torch.ops.detops.nms_match(work, float(iou_threshold))
    else:
        members, sizes = _nms_match_torch(work, float(iou_threshold))
    return [group.to(device) for group in torch.split(members, sizes.tolist())]


def _check_boxes_scores(boxes: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
    """Validate (N, 4) boxes and (N,) scores; return both contiguous in the compute dtype."""
    check_tensor("boxes", boxes, shape=(None, 4), floating=True)
    check_tensor("scores", scores, shape=(None,), floating=True)
    check_same_length(boxes=boxes, scores=scores)
    check_same_device(boxes=boxes, scores=scores)
    work = compute_dtype(torch.promote_types(boxes.dtype, scores.dtype))
    return boxes.to(work).contiguous(), scores.to(work).contiguous()


def _threshold_below(iou_threshold: float, dtype: torch.dtype) -> float:
    """The largest value of ``dtype`` not above the threshold: comparing IoUs of that dtype
    with it gives the same answers as comparing them, widened to float64, with the threshold
    (what torchvision's kernel does)."""
    value = torch.tensor(iou_threshold, dtype=dtype)
    if value.item() > iou_threshold:
        value = torch.nextafter(value, value.new_tensor(-math.inf))
    return value.item()


_FALLBACK_BLOCK = 512


def _nms_torch(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS with tensor operations, a block of candidates at a time: each block is
    checked against the boxes kept so far, then resolved within itself by greedy_keep."""
    order = torch.argsort(scores, descending=True, stable=True)
    ranked = boxes[order]
    threshold = _threshold_below(iou_threshold, boxes.dtype)
    is_kept = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    kept = boxes.new_empty((0, 4))
    for start in range(0, len(order), _FALLBACK_BLOCK):
        block = ranked[start:start + _FALLBACK_BLOCK]
        candidate = ~(overlaps_torch(kept, block) > threshold).any(0)
        keep_block = greedy_keep(overlaps_torch(block, block) > threshold, candidate)
        is_kept[start:start + len(block)] = keep_block
        kept = torch.cat([kept, block[keep_block]])
    return order[is_kept]


def greedy_keep(suppresses: Tensor, candidate: Tensor) -> Tensor:
    """Greedy suppression over boxes in rank order, as tensor operations.

    Args:
        suppresses: (B, B) bool, [j, i] true when box j would suppress box i (only j < i
            is used).
        candidate: (B,) bool, boxes still in the running.

    Returns:
        (B,) bool: kept boxes. Iterates "kept = candidate and not suppressed by an earlier
        kept box" to its fixed point; after t rounds the first t boxes are final, so it ends.
    """
    suppresses = suppresses.triu(1)
    keep = candidate
    while True:
        update = candidate & ~(suppresses & keep[:, None]).any(0)
        if torch.equal(update, keep):
            return keep
        keep = update


def _batched_nms_shifted(boxes: Tensor, scores: Tensor, idxs: Tensor,
                         iou_threshold: float) -> Tensor:
    """Shift each category by a multiple of the largest coordinate so categories cannot
    overlap, then run one NMS (torchvision's coordinate trick)."""
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def _batched_nms_per_class(boxes: Tensor, scores: Tensor, idxs: Tensor,
                           iou_threshold: float) -> Tensor:
    is_kept = torch.zeros_like(scores, dtype=torch.bool)
    for category in torch.unique(idxs):
        members = torch.where(idxs == category)[0]
        is_kept[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    kept = torch.where(is_kept)[0]
    return kept[torch.argsort(scores[kept], descending=True, stable=True)]


def _soft_nms_torch(boxes: Tensor, scores: Tensor, iou_threshold: float, sigma: float,
                    min_score: float, method: int, offset: int) -> tuple[Tensor, Tensor]:
    """Soft-NMS with tensor operations: one vectorised decay step per kept box."""
    scores = scores.clone()
    widths = boxes[:, 2:] - boxes[:, :2] + offset
    areas = widths[:, 0] * widths[:, 1]
    alive = torch.ones_like(scores, dtype=torch.bool)
    keep, kept_scores = [], []
    while bool(alive.any()):
        top = int(torch.argmax(torch.where(alive, scores, -math.inf)))
        keep.append(top)
        kept_scores.append(scores[top].clone())
        alive[top] = False
        wh = (torch.min(boxes[top, 2:], boxes[:, 2:]) - torch.max(boxes[top, :2], boxes[:, :2])
              + offset).clamp(min=0)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / (areas[top] + areas - inter)
        if method == 2:
            weight = torch.exp(-(iou * iou) / sigma)
        else:
            decayed = torch.zeros_like(iou) if method == 0 else 1 - iou
            weight = torch.where(iou >= iou_threshold, decayed, torch.ones_like(iou))
        scores = torch.where(alive, scores * weight, scores)
        alive &= scores >= min_score
    keep_t = torch.tensor(keep, dtype=torch.int64)
    score_t = torch.stack(kept_scores) if kept_scores else scores.new_empty(0)
    return torch.cat([boxes[keep_t], score_t[:, None]], 1), keep_t


def _nms_match_torch(dets: Tensor, iou_threshold: float) -> tuple[Tensor, Tensor]:
    """nms_match with tensor operations: one vectorised step per kept box."""
    order = torch.argsort(dets[:, 4], descending=True, stable=True)
    ranked = dets[order, :4]
    joins = overlaps_torch(ranked, ranked) >= iou_threshold
    free = torch.ones(len(order), dtype=torch.bool)
    members, sizes = [], []
    for rank in range(len(order)):
        if not free[rank]:
            continue
        free[rank] = False
        group = torch.where(joins[rank] & free)[0]
        free[group] = False
        members.append(order[rank:rank + 1])
        members.append(order[group])
        sizes.append(1 + len(group))
    return torch.cat(members), torch.tensor(sizes, dtype=torch.int64)


def _nms_onnx(g, boxes, scores, iou_threshold):
    """detops::nms as ONNX NonMaxSuppression (which also suppresses on IoU > threshold)."""
    from torch.onnx import symbolic_helper

    threshold = symbolic_helper._maybe_get_const(iou_threshold, "f")
    boxes = symbolic_helper._unsqueeze_helper(g, boxes, [0])
    scores = symbolic_helper._unsqueeze_helper(g, scores, [0, 1])
    most = g.op("Constant", value_t=torch.tensor([2**62], dtype=torch.int64))
    threshold = g.op("Constant", value_t=torch.tensor([threshold], dtype=torch.float32))
    selected = g.op("NonMaxSuppression", boxes, scores, most, threshold)  # (K, 3): batch, class, box
    box_column = g.op("Constant", value_t=torch.tensor([2], dtype=torch.int64))
    return symbolic_helper._squeeze_helper(g, g.op("Gather", selected, box_column, axis_i=1), [1])


if _backend.has_op("nms"):
    torch.onnx.register_custom_op_symbolic("detops::nms", _nms_onnx, 11)
    _backend.ONNX_TRANSLATED.add("nms")

    @torch.library.register_fake("detops::nms")
    def _(boxes, scores, iou_threshold):
        return boxes.new_empty((torch.library.get_ctx().new_dynamic_size(),), dtype=torch.int64)

    @torch.library.register_fake("detops::batched_nms")
    def _(boxes, scores, idxs, iou_threshold):
        return boxes.new_empty((torch.library.get_ctx().new_dynamic_size(),), dtype=torch.int64)

    @torch.library.register_fake("detops::soft_nms")
    def _(boxes, scores, iou_threshold, sigma, min_score, method, offset):
        kept = torch.library.get_ctx().new_dynamic_size()
        return boxes.new_empty((kept, 5)), boxes.new_empty((kept,), dtype=torch.int64)

    @torch.library.register_fake("detops::nms_match")
    def _(dets, iou_threshold):
        ctx = torch.library.get_ctx()
        return (dets.new_empty((ctx.new_dynamic_size(),), dtype=torch.int64),
                dets.new_empty((ctx.new_dynamic_size(),), dtype=torch.int64))
