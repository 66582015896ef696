"""Detection post-processing across classes: MMDetection's multiclass_nms, YOLACT's fast NMS
and SOLOv2's matrix NMS.

These are tensor-level compositions: multiclass_nms runs on the compiled batched_nms /
soft_nms, fast_nms on the compiled box overlaps; matrix NMS is pure tensor algebra.
"""

from __future__ import annotations

import torch
from torch import Tensor

from detops._validation import check_choice, check_same_length, check_tensor
from detops.bbox import bbox_overlaps
from detops.suppression import batched_nms, soft_nms

_NMS_TYPES = ("nms", "soft_nms")
_SOFT_NMS_KEYS = {"sigma", "min_score", "method", "offset"}


def multiclass_nms(multi_bboxes: Tensor, multi_scores: Tensor, score_thr: float,
                   nms_cfg: dict | None, max_num: int = -1, score_factors: Tensor | None = None,
                   return_inds: bool = False, nms_pre: int = -1):
    """NMS for multi-class boxes, as MMDetection's ``multiclass_nms``.

    Args:
        multi_bboxes: (N, C*4) class-specific boxes or (N, 4) boxes shared by all classes.
        multi_scores: (N, C+1) scores; the last column is the background and is ignored.
        score_thr: (box, class) pairs scoring at or below this are dropped first.
        nms_cfg: ``dict(type='nms', iou_threshold=0.5)``, or ``type='soft_nms'`` with
            soft_nms's sigma/min_score/method/offset; ``class_agnostic=True`` lets
            classes suppress each other; ``split_thr`` is accepted and ignored (the
            compiled batched NMS never materialises offset boxes). ``None`` skips NMS.
        max_num: keep at most this many detections (all when <= 0).
        score_factors: (N,) factors multiplied into the scores after thresholding
            (e.g. centerness or objectness).
        return_inds: also return the indices of the kept pairs in the flattened (N*C)
            candidates, i.e. ``box_index * C + class``.
        nms_pre: keep only this many highest-scoring pairs before NMS (all when <= 0).

    Returns:
        dets (k, 5) xyxy + score in descending score order, labels (k,) in 0..C-1, and,
        with ``return_inds``, inds (k,).
    """
    check_tensor("multi_scores", multi_scores, shape=(None, None), floating=True)
    check_tensor("multi_bboxes", multi_bboxes, shape=(None, None), floating=True)
    check_same_length(multi_bboxes=multi_bboxes, multi_scores=multi_scores)
    num_boxes, num_classes = multi_scores.shape[0], multi_scores.shape[1] - 1
    if multi_bboxes.shape[1] == 4:
        bboxes = multi_bboxes[:, None].expand(num_boxes, num_classes, 4)
    elif multi_bboxes.shape[1] == 4 * num_classes:
        bboxes = multi_bboxes.view(num_boxes, num_classes, 4)
    else:
        raise ValueError(f"multi_bboxes must have shape (N, 4) or (N, {4 * num_classes}) for "
                         f"{num_classes} classes, got {tuple(multi_bboxes.shape)}")
    bboxes = bboxes.reshape(-1, 4)
    scores = multi_scores[:, :-1].reshape(-1)
    labels = torch.arange(num_classes, device=scores.device).repeat(num_boxes)

    inds = torch.where(scores > score_thr)[0]
    if score_factors is not None:
        check_tensor("score_factors", score_factors, shape=(num_boxes,))
        scores = scores * score_factors.repeat_interleave(num_classes)
    if nms_pre > 0 and len(inds) > nms_pre:
        inds = inds[torch.topk(scores[inds], nms_pre).indices]
    bboxes, scores, labels = bboxes[inds], scores[inds], labels[inds]

    dets, keep = _batched_nms_with_cfg(bboxes, scores, labels, nms_cfg)
    if max_num > 0:
        dets, keep = dets[:max_num], keep[:max_num]
    return (dets, labels[keep], inds[keep]) if return_inds else (dets, labels[keep])


def _batched_nms_with_cfg(boxes: Tensor, scores: Tensor, labels: Tensor,
                          nms_cfg: dict | None) -> tuple[Tensor, Tensor]:
    """Per-class NMS as configured; returns (dets (k, 5), keep (k,)) in descending score."""
    if nms_cfg is None:
        order = torch.argsort(scores, descending=True, stable=True)
        return torch.cat([boxes[order], scores[order, None]], 1), order
    cfg = dict(nms_cfg)
    nms_type = cfg.pop("type", "nms")
    check_choice("nms_cfg['type']", nms_type, _NMS_TYPES)
    if "iou_threshold" not in cfg:
        raise ValueError(f"nms_cfg needs 'iou_threshold', got {nms_cfg}")
    iou_threshold = cfg.pop("iou_threshold")
    class_agnostic = cfg.pop("class_agnostic", False)
    cfg.pop("split_thr", None)
    allowed = _SOFT_NMS_KEYS if nms_type == "soft_nms" else set()
    unknown = set(cfg) - allowed
    if unknown:
        raise ValueError(f"nms_cfg has unknown keys {sorted(unknown)} for type {nms_type!r}")
    groups = torch.zeros_like(labels) if class_agnostic else labels
    if nms_type == "nms":
        keep = batched_nms(boxes, scores, groups, iou_threshold)
        return torch.cat([boxes[keep], scores[keep, None]], 1), keep
    kept_dets, kept_inds = [], []
    for group in torch.unique(groups):
        members = torch.where(groups == group)[0]
        dets, keep = soft_nms(boxes[members], scores[members], iou_threshold, **cfg)
        kept_dets.append(dets)
        kept_inds.append(members[keep])
    if not kept_dets:
        return torch.cat([boxes, scores[:, None]], 1), labels.new_empty(0)
    dets, keep = torch.cat(kept_dets), torch.cat(kept_inds)
    order = torch.argsort(dets[:, 4], descending=True, stable=True)
    return dets[order], keep[order]


def fast_nms(multi_bboxes: Tensor, multi_scores: Tensor, multi_coeffs: Tensor, score_thr: float,
             iou_thr: float, top_k: int, max_num: int = -1) -> tuple[Tensor, Tensor, Tensor]:
    """Fast NMS from YOLACT, as MMDetection's ``fast_nms``: per class, take the top_k boxes
    and drop every box whose IoU with any higher-scored box of its class exceeds iou_thr
    (suppressed boxes may still suppress, which makes it one matrix operation).

    Args:
        multi_bboxes: (N, 4) boxes shared by all classes.
        multi_scores: (N, C+1) scores, background last.
        multi_coeffs: (N, D) mask coefficients carried along.
        score_thr: boxes scoring at or below this are dropped after suppression.
        iou_thr: IoU above which the lower-scored box is dropped.
        top_k: boxes per class considered.
        max_num: detections kept over all classes (all when <= 0).

    Returns:
        dets (k, 5), labels (k,), coeffs (k, D), in descending score order.
    """
    check_tensor("multi_bboxes", multi_bboxes, shape=(None, 4), floating=True)
    check_tensor("multi_scores", multi_scores, shape=(None, None), floating=True)
    check_tensor("multi_coeffs", multi_coeffs, shape=(None, None))
    check_same_length(multi_bboxes=multi_bboxes, multi_scores=multi_scores,
                      multi_coeffs=multi_coeffs)
    scores, idx = multi_scores[:, :-1].t().sort(1, descending=True)
    idx, scores = idx[:, :top_k], scores[:, :top_k]
    num_classes, num_dets = idx.shape
    boxes = multi_bboxes[idx.reshape(-1)].view(num_classes, num_dets, 4)
    coeffs = multi_coeffs[idx.reshape(-1)].view(num_classes, num_dets, -1)

    iou = bbox_overlaps(boxes, boxes).triu(diagonal=1)
    keep = (iou.max(dim=1).values <= iou_thr) & (scores > score_thr)
    classes = torch.arange(num_classes, device=boxes.device)[:, None].expand_as(keep)[keep]
    boxes, coeffs, scores = boxes[keep], coeffs[keep], scores[keep]

    scores, order = scores.sort(0, descending=True)
    if max_num > 0:
        order, scores = order[:max_num], scores[:max_num]
    dets = torch.cat([boxes[order], scores[:, None]], 1)
    return dets, classes[order], coeffs[order]


def matrix_nms(masks: Tensor, labels: Tensor, scores: Tensor, filter_thr: float = -1,
               nms_pre: int = -1, max_num: int = -1, kernel: str = "gaussian",
               sigma: float = 2.0, mask_area: Tensor | None = None):
    """Matrix NMS from SOLOv2, as MMDetection's ``mask_matrix_nms``: every mask's score is
    decayed at once by its IoU with higher-scored masks of the same class, compensated by
    how much those were themselves overlapped.

    Args:
        masks: (N, H, W) binary masks.
        labels: (N,) class labels.
        scores: (N,) scores.
        filter_thr: drop masks whose decayed score is below this (no filter when <= 0).
        nms_pre: masks considered, highest scores first (all when <= 0).
        max_num: masks returned (all when <= 0).
        kernel: 'gaussian' (decay exp(-sigma * iou**2)) or 'linear' (1 - iou).
        sigma: the gaussian kernel's width.
        mask_area: (N,) precomputed mask areas.

    Returns:
        scores (k,), labels (k,), masks (k, H, W) and keep_inds (k,) into the input, in
        descending decayed score.
    """
    check_choice("kernel", kernel, ("gaussian", "linear"))
    check_tensor("masks", masks, shape=(None, None, None))
    check_tensor("labels", labels, shape=(None,))
    check_tensor("scores", scores, shape=(None,), floating=True)
    check_same_length(masks=masks, labels=labels, scores=scores, mask_area=mask_area)

    def nothing_kept():
        return (scores.new_zeros(0), labels.new_zeros(0), masks.new_zeros(0, *masks.shape[-2:]),
                labels.new_zeros(0))

    if len(labels) == 0:
        return nothing_kept()
    if mask_area is None:
        mask_area = masks.sum((1, 2)).float()
    scores, keep_inds = torch.sort(scores, descending=True)
    if 0 < nms_pre < len(keep_inds):
        keep_inds, scores = keep_inds[:nms_pre], scores[:nms_pre]
    masks, mask_area, labels = masks[keep_inds], mask_area[keep_inds], labels[keep_inds]

    flat = masks.reshape(len(labels), -1).float()
    inter = flat @ flat.t()
    areas = mask_area.expand(len(labels), len(labels))
    iou = (inter / (areas + areas.t() - inter)).triu(diagonal=1)
    same_label = (labels[None, :] == labels[:, None]).triu(diagonal=1)
    decay_iou = iou * same_label
    # how much each (higher-scored) mask was itself overlapped, broadcast along its row
    compensate_iou = decay_iou.max(0).values.expand(len(labels), len(labels)).t()
    if kernel == "gaussian":
        decay = torch.exp(-sigma * decay_iou**2) / torch.exp(-sigma * compensate_iou**2)
    else:
        decay = (1 - decay_iou) / (1 - compensate_iou)
    scores = scores * decay.min(0).values

    if filter_thr > 0:
        keep = scores >= filter_thr
        if not keep.any():
            return nothing_kept()
        keep_inds, masks, scores, labels = keep_inds[keep], masks[keep], scores[keep], labels[keep]
    scores, order = torch.sort(scores, descending=True)
    if 0 < max_num < len(order):
        order, scores = order[:max_num], scores[:max_num]
    return scores, labels[order], masks[order], keep_inds[order]


mask_matrix_nms = matrix_nms
