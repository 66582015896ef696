"""Pairs of detections and ground truths that meet in one group, and their overlaps.

A group is what an evaluator matches within: one image and category for COCO and VOC,
one image for class-agnostic proposal recall. Working on the flat list of such pairs
lets every image be handled by the same array operations at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def group_pairs(
    det_groups: np.ndarray, gt_groups: np.ndarray, max_pairs: int = 1 << 22
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (det, gt) index pair of the same group, det by det, gts in their order.

    Args:
        det_groups: (D,) group id of each detection, sorted ascending.
        gt_groups: (G,) group id of each ground truth, sorted ascending.
        max_pairs: pairs per yielded chunk (a single detection's pairs are never split),
            which bounds memory when groups are large (class-agnostic proposals).

    Yields:
        (pair_det, pair_gt), each (P,) int64, in det-major order.
    """
    gt_start = np.searchsorted(gt_groups, det_groups, side="left")
    counts = np.searchsorted(gt_groups, det_groups, side="right") - gt_start
    ends = np.cumsum(counts)
    if len(ends) == 0 or ends[-1] == 0:
        return
    cuts = np.searchsorted(ends, np.arange(max_pairs, ends[-1], max_pairs), side="left") + 1
    bounds = np.unique(np.concatenate([[0], cuts, [len(det_groups)]]))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        chunk_counts = counts[lo:hi]
        total = int(chunk_counts.sum())
        if total == 0:
            continue
        first_pair = np.repeat(np.cumsum(chunk_counts) - chunk_counts, chunk_counts)
        pair_det = np.repeat(np.arange(lo, hi), chunk_counts)
        pair_gt = np.repeat(gt_start[lo:hi], chunk_counts) + (np.arange(total) - first_pair)
        yield pair_det, pair_gt


def coco_box_iou(det_xywh: np.ndarray, gt_xywh: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """IoU of aligned (det, gt) box pairs, computed with pycocotools' exact arithmetic.

    Against a crowd region the union is the detection's own area (intersection over the
    detection), so a detection inside a crowd counts as overlapping it fully.

    Args:
        det_xywh, gt_xywh: (P, 4) float64 xywh boxes.
        gt_crowd: (P,) bool, whether the gt of each pair is a crowd region.

    Returns:
        (P,) float64 IoU, bit-identical to ``pycocotools.mask.iou``.
    """
    dx, dy, dw, dh = det_xywh.T
    gx, gy, gw, gh = gt_xywh.T
    # same operations in the same order as bbIou in pycocotools' maskApi.c
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    det_area = dw * dh
    union = np.where(gt_crowd, det_area, det_area + gw * gh - inter)
    overlapping = (w > 0) & (h > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlapping)


def mmdet_box_iou(a: np.ndarray, b: np.ndarray, extra: float = 0.0) -> np.ndarray:
    """IoU of aligned xyxy pairs as MMDetection's NumPy ``bbox_overlaps`` computes it.

    Float32 arithmetic; ``extra`` = 1 adds the VOC devkit's +1 to widths and heights.

    Args:
        a, b: (P, 4) xyxy boxes.

    Returns:
        (P,) float32 IoU.
    """
    a, b, extra = a.astype(np.float32), b.astype(np.float32), np.float32(extra)
    area_a = (a[:, 2] - a[:, 0] + extra) * (a[:, 3] - a[:, 1] + extra)
    area_b = (b[:, 2] - b[:, 0] + extra) * (b[:, 3] - b[:, 1] + extra)
    w = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + extra, 0)
    h = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + extra, 0)
    overlap = w * h
    return overlap / np.maximum(area_a + area_b - overlap, np.float32(1e-6))
