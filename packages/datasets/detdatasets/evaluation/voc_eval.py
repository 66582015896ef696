"""Pascal VOC mAP with MMDetection's ``eval_map`` / ``tpfp_default`` semantics, vectorised.

Per image and class, detections are visited by descending score; each looks only at
the ground truth it overlaps most (ignored "difficult" boxes included). At IoU >= thr
that gt is claimed if it is an ordinary, in-range gt not claimed yet (true positive),
or the detection is a duplicate (false positive); overlapping an ignored or
out-of-range gt best makes the detection count for nothing. Below the threshold it is a
false positive (only if its own area is in range, with scale ranges). AP is the area
under the precision envelope ('area', VOC2010+) or the mean of the best precision at
recall 0, 0.1, ..., 1 ('11points', VOC2007).

``use_legacy_coordinate`` (+1 to widths and heights, as the VOC devkit and
MMDetection's VOCMetric do) is honoured; boxes are compared in float32 as MMDetection.
Unlike MMDetection, equal scores keep their listed order (a stable sort).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .pairs import group_pairs, mmdet_box_iou

EVAL_MODES = ("area", "11points")


@dataclass
class VocImage:
    """One image's ground truth and detections; boxes (N, 4) xyxy, labels 0..C-1."""

    gt_bboxes: np.ndarray
    gt_labels: np.ndarray
    det_bboxes: np.ndarray
    det_scores: np.ndarray
    det_labels: np.ndarray
    ignored_bboxes: np.ndarray | None = None  # e.g. VOC's "difficult" objects
    ignored_labels: np.ndarray | None = None


@dataclass
class VocClassResult:
    """One class's outcome; with scale ranges, arrays have a leading scale axis."""

    num_gts: np.ndarray  # (S,)
    num_dets: int
    recall: np.ndarray  # (S, num_dets) after sorting by score
    precision: np.ndarray  # (S, num_dets)
    ap: np.ndarray  # (S,)


def average_precision(recalls: np.ndarray, precisions: np.ndarray, mode: str = "area") -> np.ndarray:
    """AP of precision-recall curves (S, N) (or (N,) -> scalar array), as MMDetection."""
    if mode not in EVAL_MODES:
        raise ValueError(f"eval_mode must be one of {EVAL_MODES}, got {mode!r}")
    single = recalls.ndim == 1
    recalls, precisions = np.atleast_2d(recalls), np.atleast_2d(precisions)
    if mode == "area":
        zeros, ones = np.zeros((len(recalls), 1)), np.ones((len(recalls), 1))
        mrec = np.hstack([zeros, recalls, ones])
        envelope = np.flip(np.maximum.accumulate(np.flip(np.hstack([zeros, precisions, zeros]), 1), axis=1), 1)
        steps = mrec[:, 1:] != mrec[:, :-1]
        ap = np.sum(np.where(steps, (mrec[:, 1:] - mrec[:, :-1]) * envelope[:, 1:], 0), axis=1)
    else:
        thresholds = np.arange(0, 1 + 1e-3, 0.1)
        reached = recalls[:, None, :] >= thresholds[None, :, None]  # (S, 11, N)
        best = np.max(np.where(reached, precisions[:, None, :], 0), axis=2, initial=0)
        ap = best.sum(axis=1) / 11
    ap = ap.astype(np.float32)
    return ap[0] if single else ap


def eval_map(
    det_results: Sequence[Sequence[np.ndarray]],
    annotations: Sequence[dict],
    scale_ranges: Sequence[tuple[float, float]] | None = None,
    iou_thr: float = 0.5,
    eval_mode: str = "area",
    use_legacy_coordinate: bool = False,
) -> tuple[float | list[float], list[VocClassResult]]:
    """MMDetection's ``eval_map`` interface: per-image lists of per-class (n, 5) arrays.

    Args:
        det_results: ``det_results[i][c]`` is an (n, 5) array [x1, y1, x2, y2, score].
        annotations: per image ``bboxes`` (n, 4), ``labels`` (n,), optionally
            ``bboxes_ignore`` and ``labels_ignore``.
        scale_ranges: [(min, max), ...] of sqrt(area); None evaluates all sizes.

    Returns:
        (mAP, per-class results); mAP is a list with one value per scale range when
        ``scale_ranges`` is given.
    """
    if len(det_results) != len(annotations):
        raise ValueError(f"{len(det_results)} detection results but {len(annotations)} annotations")
    num_classes = len(det_results[0]) if det_results else 0
    images = []
    for per_class, ann in zip(det_results, annotations):
        dets = [np.asarray(d, dtype=np.float32).reshape(-1, 5) for d in per_class]
        stacked = np.concatenate(dets) if dets else np.zeros((0, 5), np.float32)
        images.append(
            VocImage(
                gt_bboxes=ann["bboxes"],
                gt_labels=ann["labels"],
                det_bboxes=stacked[:, :4],
                det_scores=stacked[:, 4],
                det_labels=np.repeat(np.arange(len(dets)), [len(d) for d in dets]),
                ignored_bboxes=ann.get("bboxes_ignore"),
                ignored_labels=ann.get("labels_ignore"),
            )
        )
    return evaluate_voc(images, num_classes, scale_ranges, iou_thr, eval_mode, use_legacy_coordinate)


def evaluate_voc(
    images: Sequence[VocImage],
    num_classes: int,
    scale_ranges: Sequence[tuple[float, float]] | None = None,
    iou_thr: float = 0.5,
    eval_mode: str = "area",
    use_legacy_coordinate: bool = False,
) -> tuple[float | list[float], list[VocClassResult]]:
    """mAP over classes that have ground truth, and each class's curve and AP."""
    if eval_mode not in EVAL_MODES:
        raise ValueError(f"eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}")
    extra = 1.0 if use_legacy_coordinate else 0.0
    dets, gts = _flatten(images, num_classes)
    areas = None if scale_ranges is None else np.asarray(scale_ranges, dtype=np.float64) ** 2  # (S, 2)
    gt_in_range = _in_ranges(gts["bboxes"], areas, extra)  # (S, G)
    det_in_range = _in_ranges(dets["bboxes"], areas, extra)  # (S, D)
    true_pos, false_pos = _true_false_positives(dets, gts, gt_in_range, det_in_range, iou_thr, extra)

    num_scales = len(gt_in_range)
    counted_gt = gt_in_range & ~gts["ignored"]
    num_gts = np.stack([np.bincount(gts["labels"][row], minlength=num_classes) for row in counted_gt], axis=1)  # (C, S)
    order = np.lexsort((-dets["scores"], dets["labels"]))  # class by class, by score, stable
    class_start = np.searchsorted(dets["labels"][order], np.arange(num_classes + 1))
    results = []
    for c in range(num_classes):
        idx = order[class_start[c] : class_start[c + 1]]
        tp = np.cumsum(true_pos[:, idx], axis=1, dtype=np.float32)
        fp = np.cumsum(false_pos[:, idx], axis=1, dtype=np.float32)
        eps = np.finfo(np.float32).eps
        recall = tp / np.maximum(num_gts[c][:, None], eps)
        precision = tp / np.maximum(tp + fp, eps)
        ap = average_precision(recall, precision, eval_mode)
        results.append(VocClassResult(num_gts[c], len(idx), recall, precision, ap))

    mean_aps = []
    for s in range(num_scales):
        aps = [r.ap[s] for r in results if r.num_gts[s] > 0]
        mean_aps.append(float(np.mean(np.asarray(aps, dtype=np.float32))) if aps else 0.0)
    return (mean_aps if scale_ranges is not None else mean_aps[0]), results


def _flatten(images: Sequence[VocImage], num_classes: int) -> tuple[dict, dict]:
    """All images' detections and gts (ordinary first, then ignored) as flat arrays,
    sorted by (image, class) group; detections by descending score within a group."""

    def column(values, dtype, width=None):
        arrays = [np.asarray(v, dtype=dtype).reshape((-1, width) if width else -1) for v in values]
        return np.concatenate(arrays) if arrays else np.zeros((0, width) if width else 0, dtype)

    gt_bboxes, gt_labels, ignored, img = [], [], [], []
    for i, im in enumerate(images):
        ign_boxes = np.zeros((0, 4)) if im.ignored_bboxes is None else im.ignored_bboxes
        ign_labels = np.zeros(0) if im.ignored_labels is None else im.ignored_labels
        n_gt, n_ign = len(np.asarray(im.gt_labels).reshape(-1)), len(np.asarray(ign_labels).reshape(-1))
        gt_bboxes += [im.gt_bboxes, ign_boxes]
        gt_labels += [im.gt_labels, ign_labels]
        ignored.append(np.r_[np.zeros(n_gt, bool), np.ones(n_ign, bool)])
        img.append(np.full(n_gt + n_ign, i))
    gts = {
        "bboxes": column(gt_bboxes, np.float32, 4),
        "labels": column(gt_labels, np.int64),
        "ignored": column(ignored, bool),
        "group": column(img, np.int64),
    }
    dets = {
        "bboxes": column([im.det_bboxes for im in images], np.float32, 4),
        "scores": column([im.det_scores for im in images], np.float32),
        "labels": column([im.det_labels for im in images], np.int64),
        "group": column([np.full(len(np.asarray(im.det_scores).reshape(-1)), i) for i, im in enumerate(images)], np.int64),
    }
    for name, records in (("detection", dets), ("ground-truth", gts)):
        bad = (records["labels"] < 0) | (records["labels"] >= num_classes)
        if bad.any():
            raise ValueError(f"a {name} label {int(records['labels'][bad][0])} is outside 0..{num_classes - 1}")
        records["group"] = records["group"] * num_classes + records["labels"]
    gt_order = np.lexsort((~gts["ignored"], gts["group"]))  # stable: ordinary gts, then ignored
    det_order = np.lexsort((-dets["scores"], dets["group"]))
    return {k: v[det_order] for k, v in dets.items()}, {k: v[gt_order] for k, v in gts.items()}


def _in_ranges(bboxes: np.ndarray, areas: np.ndarray | None, extra: float) -> np.ndarray:
    """(S, N) whether each box's area is within [min, max) of each range (all True without)."""
    if areas is None:
        return np.ones((1, len(bboxes)), dtype=bool)
    area = (bboxes[:, 2] - bboxes[:, 0] + extra) * (bboxes[:, 3] - bboxes[:, 1] + extra)
    return (area >= areas[:, :1]) & (area < areas[:, 1:])


def _true_false_positives(
    dets: dict, gts: dict, gt_in_range: np.ndarray, det_in_range: np.ndarray, iou_thr: float, extra: float
) -> tuple[np.ndarray, np.ndarray]:
    """(S, D) bool true and false positives of ``tpfp_default``."""
    num_dets = len(dets["scores"])
    best_iou = np.full(num_dets, -1.0, dtype=np.float32)  # -1: the image has no gt of the class
    best_gt = np.zeros(num_dets, dtype=np.int64)
    pairs = list(group_pairs(dets["group"], gts["group"]))
    if pairs:
        pair_det, pair_gt = (np.concatenate(c) for c in zip(*pairs))
        iou = mmdet_box_iou(dets["bboxes"][pair_det], gts["bboxes"][pair_gt], extra)
        starts = np.flatnonzero(np.r_[True, pair_det[1:] != pair_det[:-1]])
        seg_max = np.maximum.reduceat(iou, starts)
        per_pair_max = np.repeat(seg_max, np.diff(np.r_[starts, len(iou)]))
        # argmax: the first gt (ordinary before ignored) reaching the maximum
        first_at_max = np.flatnonzero(iou == per_pair_max)
        first_at_max = first_at_max[np.r_[True, pair_det[first_at_max][1:] != pair_det[first_at_max][:-1]]]
        best_iou[pair_det[starts]] = seg_max
        best_gt[pair_det[first_at_max]] = pair_gt[first_at_max]

    has_gt = best_iou >= 0
    over = has_gt & (best_iou >= np.float32(iou_thr))
    if len(gts["ignored"]):
        claimable = over & ~gts["ignored"][best_gt] & gt_in_range[:, best_gt]  # (S, D)
    else:
        claimable = np.zeros((len(gt_in_range), num_dets), dtype=bool)
    true_pos = np.zeros_like(claimable)
    for s, claim in enumerate(claimable):
        candidates = np.flatnonzero(claim)  # in group then score order: first claim wins
        _, first = np.unique(best_gt[candidates], return_index=True)
        true_pos[s, candidates[first]] = True
    # below the threshold (or no gt of the class in the image): a miss, if the box is in range
    false_pos = (claimable & ~true_pos) | (~over & det_in_range)
    return true_pos, false_pos
