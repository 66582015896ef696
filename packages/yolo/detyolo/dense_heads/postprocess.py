"""YOLO post-processing of one image's dense predictions (MMYOLO's rules):
score filter (multi-label or best class), top ``nms_pre``, undo the letterbox and
resize, class-wise NMS, keep ``max_per_img``, clip to the original image."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from detcore.structures import InstanceData
from detmodels.task_modules import filter_scores_and_topk
from detops import batched_nms


def _nms_iou_threshold(cfg: Mapping) -> float:
    nms = cfg.get("nms")
    if nms is None:
        raise KeyError("test_cfg needs 'nms', e.g. nms=dict(type='nms', iou_threshold=0.7)")
    if nms.get("type", "nms") != "nms":
        raise ValueError(f"test_cfg.nms.type: only 'nms' is supported, got {nms.get('type')!r}")
    return float(nms["iou_threshold"])


def yolo_postprocess(bboxes: Tensor, scores: Tensor, img_meta: Mapping, cfg: Mapping,
                     objectness: Tensor | None = None, rescale: bool = True,
                     with_nms: bool = True) -> InstanceData:
    """Detections of one image.

    Args:
        bboxes: (A, 4) decoded xyxy boxes on the network input.
        scores: (A, C) class probabilities.
        objectness: (A,) objectness probabilities (YOLOv5/YOLOX) or None.
        img_meta: 'ori_shape' (h, w), 'scale_factor' (w, h) and optionally 'pad_param'
            (top, bottom, left, right) of a letterbox.
        cfg: test_cfg: score_thr, nms_pre, multi_label, nms=dict(iou_threshold), max_per_img.

    Returns:
        InstanceData with bboxes (K, 4), scores (K,), labels (K,), best first.
    """
    score_thr = cfg.get("score_thr", -1)
    if objectness is not None:
        if score_thr > 0:
            confident = objectness > score_thr
            bboxes, scores, objectness = bboxes[confident], scores[confident], objectness[confident]
        scores = scores * objectness[:, None]
    nms_pre = cfg.get("nms_pre", 100000)
    if cfg.get("multi_label", False) and scores.size(1) > 1:
        scores, labels, keep, _ = filter_scores_and_topk(scores, score_thr, nms_pre)
    else:
        best, labels = scores.max(1, keepdim=True)
        scores, _, keep, filtered = filter_scores_and_topk(best, score_thr, nms_pre,
                                                           dict(labels=labels[:, 0]))
        labels = filtered["labels"]
    bboxes = bboxes[keep]

    if rescale:
        pad_param = img_meta.get("pad_param")
        if pad_param is not None:
            top, _, left, _ = (float(p) for p in pad_param)
            bboxes = bboxes - bboxes.new_tensor([left, top, left, top])
        scale_w, scale_h = img_meta.get("scale_factor", (1.0, 1.0))
        bboxes = bboxes / bboxes.new_tensor([scale_w, scale_h, scale_w, scale_h])

    if with_nms and bboxes.numel():
        keep = batched_nms(bboxes, scores, labels, _nms_iou_threshold(cfg))
        keep = keep[:cfg.get("max_per_img", 300)]
        bboxes, scores, labels = bboxes[keep], scores[keep], labels[keep]

    if rescale and "ori_shape" in img_meta:
        height, width = img_meta["ori_shape"][:2]
        bboxes = torch.stack((bboxes[:, 0].clamp(0, width), bboxes[:, 1].clamp(0, height),
                              bboxes[:, 2].clamp(0, width), bboxes[:, 3].clamp(0, height)), -1)
    return InstanceData(bboxes=bboxes, scores=scores, labels=labels)
