"""COCO detection evaluation with pycocotools' semantics, vectorised over all images.

``coco_evaluate(gt, dets)`` returns the 12 numbers of ``COCOeval.stats``;
``evaluate_coco`` also returns the precision/recall arrays (for per-class tables) and
the printed summary. Same inputs give the same numbers as pycocotools' COCOeval
(evaluate, accumulate, summarize), including its conventions: crowd regions matched by
intersection over the detection and never counted, inclusive area-range bounds, the
ground-truth ``area`` taken from the annotation, ``maxDets`` per image, and -1 for
settings without ground truth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .coco_accumulate import CocoCurves, accumulate
from .coco_data import (
    CocoDetections,
    CocoGroundTruth,
    check_iou_type,
    load_detections,
    load_ground_truth,
    to_rle,
)
from .coco_matching import greedy_match
from .pairs import coco_box_iou, group_pairs

AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")
STAT_NAMES = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)  # fmt: skip


def _default_iou_thrs() -> np.ndarray:
    # the exact expression of pycocotools, so that 0.5 and 0.75 compare equal in summaries
    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def _default_rec_thrs() -> np.ndarray:
    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


@dataclass
class CocoEvalParams:
    """The settings of ``COCOeval.params`` for bbox/segm, with the same defaults.

    ``img_ids``/``cat_ids`` of None mean every image/category of the ground truth.
    With ``use_cats=False`` categories are ignored when matching (proposal recall).
    """

    img_ids: Sequence[int] | None = None
    cat_ids: Sequence[int] | None = None
    iou_thrs: Sequence[float] = field(default_factory=_default_iou_thrs)
    rec_thrs: Sequence[float] = field(default_factory=_default_rec_thrs)
    max_dets: Sequence[int] = (1, 10, 100)
    area_ranges: Sequence[tuple[float, float]] = AREA_RANGES
    area_labels: Sequence[str] = AREA_LABELS
    use_cats: bool = True


@dataclass
class CocoEvalResult:
    """What ``COCOeval`` holds after evaluate/accumulate/summarize.

    ``precision`` is (T, R, K, A, M): IoU thresholds, recall thresholds, categories
    (``params.cat_ids`` order), area ranges, max detections; ``recall`` (T, K, A, M).
    """

    iou_type: str
    params: CocoEvalParams  # resolved: sorted ids, sorted max_dets, arrays
    cat_names: list[str]
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    stats: np.ndarray  # (12,) in COCOeval.stats order

    def summary(self) -> str:
        """The 12-line table that ``COCOeval.summarize`` prints."""
        lines = []
        for (is_ap, iou_thr, area, max_det), value in zip(_summary_settings(self.params), self.stats):
            title, kind = ("Average Precision", "(AP)") if is_ap else ("Average Recall", "(AR)")
            thrs = self.params.iou_thrs
            iou = f"{thrs[0]:0.2f}:{thrs[-1]:0.2f}" if iou_thr is None else f"{iou_thr:0.2f}"
            lines.append(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={max_det:>3d} ] = {value:0.3f}")
        return "\n".join(lines)

    def category_ap(self, iou_thr: float | None = None, area: str = "all", max_det: int | None = None) -> np.ndarray:
        """(K,) AP of each category (mean over recall thresholds and IoUs); NaN without gt.

        Defaults: every IoU threshold, all areas, the largest ``max_dets``.
        """
        p = self.params
        s = self.precision if iou_thr is None else self.precision[np.flatnonzero(np.isclose(p.iou_thrs, iou_thr))]
        s = s[:, :, :, list(p.area_labels).index(area), p.max_dets.index(max_det) if max_det else -1]
        s = np.moveaxis(s, 2, 0).reshape(s.shape[2], -1)
        valid = s > -1
        with np.errstate(invalid="ignore"):
            return np.where(valid.any(1), (s * valid).sum(1) / valid.sum(1), np.nan)


def coco_evaluate(
    gt: dict | str | os.PathLike | CocoGroundTruth,
    dets: Sequence[dict] | str | os.PathLike | CocoDetections,
    iou_type: str = "bbox",
    **params,
) -> list[float]:
    """The 12 COCOeval summary numbers (AP, AP50, AP75, AP s/m/l, AR1, AR10, AR100, AR s/m/l).

    Args:
        gt: a COCO annotation dict or the path of its JSON file.
        dets: a list of COCO result dicts (image_id, category_id, bbox xywh or
            segmentation RLE, score) or the path of their JSON file.
        iou_type: 'bbox' or 'segm'.
        **params: fields of :class:`CocoEvalParams` (img_ids, cat_ids, max_dets...).
    """
    return evaluate_coco(gt, dets, iou_type, CocoEvalParams(**params)).stats.tolist()


def evaluate_coco(
    gt: dict | str | os.PathLike | CocoGroundTruth,
    dets: Sequence[dict] | str | os.PathLike | CocoDetections,
    iou_type: str = "bbox",
    params: CocoEvalParams | None = None,
) -> CocoEvalResult:
    """Evaluate like ``COCOeval(gt, loadRes(dets), iou_type)`` + evaluate/accumulate/summarize."""
    check_iou_type(iou_type)
    gt = gt if isinstance(gt, CocoGroundTruth) else load_ground_truth(gt)
    dets = dets if isinstance(dets, CocoDetections) else load_detections(dets, gt, iou_type)
    p = _resolve(params or CocoEvalParams(), gt)
    num_cats = len(p.cat_ids) if p.use_cats else 1
    area_lo, area_hi = np.asarray(p.area_ranges, dtype=np.float64).reshape(-1, 2).T[:, :, None]

    gt_sel, gt_img, gt_cat, gt_group = _select(gt.image_ids, gt.category_ids, np.zeros(len(gt.image_ids)), p)
    det_sel, det_img, det_cat, det_group = _select(dets.image_ids, dets.category_ids, -dets.scores, p)
    det_rank = np.arange(len(det_sel)) - np.searchsorted(det_group, det_group, side="left")
    kept = det_rank < p.max_dets[-1]
    det_sel, det_img, det_cat, det_group, det_rank = (x[kept] for x in (det_sel, det_img, det_cat, det_group, det_rank))

    _check_regions(iou_type, gt, dets, gt_sel)

    gt_crowd = gt.iscrowd[gt_sel] != 0
    gt_ignore = gt_crowd | (gt.areas[gt_sel] < area_lo) | (gt.areas[gt_sel] > area_hi)  # (A, G)
    det_outside = (dets.areas[det_sel] < area_lo) | (dets.areas[det_sel] > area_hi)  # (A, D)

    pair_det, pair_gt, pair_iou = _candidate_pairs(iou_type, gt, dets, gt_sel, det_sel, gt_group, det_group, gt_crowd, p)
    matched_dets, matched_gt = greedy_match(pair_det, pair_gt, pair_iou, det_rank, gt_ignore, gt_crowd, p.iou_thrs)
    true_pos, false_pos = _outcomes(matched_dets, matched_gt, gt.ann_ids[gt_sel], gt_ignore, det_outside, len(p.iou_thrs))

    num_pos = np.stack([np.bincount(gt_cat[~ignore], minlength=num_cats) for ignore in gt_ignore], axis=1)
    curves = accumulate(
        true_pos, false_pos, det_cat, det_img, det_rank, dets.scores[det_sel], num_pos, np.asarray(p.max_dets), p.rec_thrs
    )
    names = dict(zip(gt.cat_ids.tolist(), gt.cat_names))
    return CocoEvalResult(
        iou_type=iou_type,
        params=p,
        cat_names=[names.get(c, str(c)) for c in p.cat_ids] if p.use_cats else ["all"],
        precision=curves.precision,
        recall=curves.recall,
        scores=curves.scores,
        stats=_stats(curves, p),
    )


def _check_regions(iou_type: str, gt: CocoGroundTruth, dets: CocoDetections, gt_sel: np.ndarray) -> None:
    """The boxes or masks this evaluation compares must be there."""
    if iou_type == "bbox":
        lacking = gt.ann_ids[gt_sel[np.isnan(gt.boxes[gt_sel]).any(axis=1)]]
        if len(lacking):
            raise ValueError(f"{gt.source}: bbox evaluation needs a 'bbox' in annotation id {int(lacking[0])}")
    if iou_type == "segm":
        lacking = [int(gt.ann_ids[i]) for i in gt_sel if gt.segmentations[i] is None]
        if lacking:
            raise ValueError(f"{gt.source}: segm evaluation needs a 'segmentation' in annotation id {lacking[0]}")
        if dets.segmentations is None:
            raise ValueError("these detections were loaded for bbox evaluation; load them with iou_type='segm'")


def _resolve(params: CocoEvalParams, gt: CocoGroundTruth) -> CocoEvalParams:
    """Params as COCOeval.evaluate leaves them: unique sorted ids, sorted max_dets."""
    img_ids = np.unique(np.asarray(gt.img_ids if params.img_ids is None else params.img_ids, dtype=np.int64))
    cat_ids = np.asarray(sorted(gt.cat_ids.tolist()) if params.cat_ids is None else params.cat_ids, dtype=np.int64)
    # COCOeval sorts category ids only when it uses them; class-agnostic keeps the given order
    cat_ids = np.unique(cat_ids) if params.use_cats else cat_ids[np.sort(np.unique(cat_ids, return_index=True)[1])]
    max_dets = sorted(int(m) for m in params.max_dets)
    if len(max_dets) < 3:
        raise ValueError(f"max_dets needs 3 values for COCO's 12-number summary (it reads the 1st, 2nd and 3rd), got {max_dets}")
    if len(params.area_ranges) != len(params.area_labels):
        raise ValueError(f"area_ranges ({len(params.area_ranges)}) and area_labels ({len(params.area_labels)}) differ in length")
    return replace(
        params,
        img_ids=img_ids.tolist(),
        cat_ids=cat_ids.tolist(),
        iou_thrs=np.atleast_1d(np.asarray(params.iou_thrs, dtype=np.float64)),
        rec_thrs=np.atleast_1d(np.asarray(params.rec_thrs, dtype=np.float64)),
        max_dets=max_dets,
    )


def _select(
    image_ids: np.ndarray, category_ids: np.ndarray, sort_key: np.ndarray, p: CocoEvalParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Records of the evaluated images and categories, grouped as COCOeval groups them.

    Within a group records keep COCOeval's order: by ``sort_key`` (stable), then by
    category (class-agnostic groups list category after category), then as listed.

    Returns:
        (index into the records, image index, category index, group id), group-sorted.
    """
    img_ids = np.asarray(p.img_ids, dtype=np.int64)
    img = np.searchsorted(img_ids, image_ids)
    in_imgs = img < len(img_ids)
    in_imgs[in_imgs] = img_ids[img[in_imgs]] == image_ids[in_imgs]
    cat_ids = np.asarray(p.cat_ids, dtype=np.int64)
    by_id = np.argsort(cat_ids, kind="stable")
    cat = np.searchsorted(cat_ids[by_id], category_ids)
    in_cats = cat < len(cat_ids)
    in_cats[in_cats] = cat_ids[by_id][cat[in_cats]] == category_ids[in_cats]
    index = np.flatnonzero(in_imgs & in_cats)
    img, cat = img[index], by_id[cat[index]]
    group = img * len(cat_ids) + cat if p.use_cats else img
    # lexsort is stable and `index` ascends, so records stay as listed within equal keys;
    # a group of one category needs no category key
    keys = (sort_key[index], group) if p.use_cats else (cat, sort_key[index], group)
    order = np.lexsort(keys)
    return index[order], img[order], (cat if p.use_cats else np.zeros_like(cat))[order], group[order]


def _candidate_pairs(
    iou_type: str,
    gt: CocoGroundTruth,
    dets: CocoDetections,
    gt_sel: np.ndarray,
    det_sel: np.ndarray,
    gt_group: np.ndarray,
    det_group: np.ndarray,
    gt_crowd: np.ndarray,
    p: CocoEvalParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(det, gt, IoU) for the pairs of a group that reach the lowest IoU threshold."""
    lowest = min(float(np.min(p.iou_thrs)), 1 - 1e-10) if len(p.iou_thrs) else np.inf
    if iou_type == "segm":
        pair_det, pair_gt = next(group_pairs(det_group, gt_group, max_pairs=np.iinfo(np.int64).max), ([], []))
        pair_iou = _mask_ious(gt, dets, gt_sel, det_sel, det_group, gt_group, gt_crowd)
        chunks = [(np.asarray(pair_det, np.int64), np.asarray(pair_gt, np.int64), pair_iou)]
    else:
        chunks = (
            (d, g, coco_box_iou(dets.boxes[det_sel[d]], gt.boxes[gt_sel[g]], gt_crowd[g]))
            for d, g in group_pairs(det_group, gt_group)
        )
    kept = [(d[iou >= lowest], g[iou >= lowest], iou[iou >= lowest]) for d, g, iou in chunks]
    if not kept:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate(column) for column in zip(*kept))


def _mask_ious(
    gt: CocoGroundTruth,
    dets: CocoDetections,
    gt_sel: np.ndarray,
    det_sel: np.ndarray,
    det_group: np.ndarray,
    gt_group: np.ndarray,
    gt_crowd: np.ndarray,
) -> np.ndarray:
    """Mask IoUs of every same-group pair, det-major (the order of ``group_pairs``).

    One ``pycocotools.mask.iou`` call per group that has both detections and gts.
    """
    from pycocotools import mask as mask_utils

    groups = np.intersect1d(det_group, gt_group)
    d_lo, d_hi = np.searchsorted(det_group, groups, "left"), np.searchsorted(det_group, groups, "right")
    g_lo, g_hi = np.searchsorted(gt_group, groups, "left"), np.searchsorted(gt_group, groups, "right")
    gt_img, det_img = gt.image_ids[gt_sel].tolist(), dets.image_ids[det_sel].tolist()
    ious = []
    for dl, dh, gl, gh in zip(d_lo, d_hi, g_lo, g_hi):
        det_rles = [to_rle(dets.segmentations[det_sel[i]], gt.img_sizes, det_img[i]) for i in range(dl, dh)]
        gt_rles = [to_rle(gt.segmentations[gt_sel[i]], gt.img_sizes, gt_img[i]) for i in range(gl, gh)]
        ious.append(np.asarray(mask_utils.iou(det_rles, gt_rles, gt_crowd[gl:gh].astype(np.uint8))).ravel())
    return np.concatenate(ious) if ious else np.zeros(0)


def _outcomes(
    matched_dets: np.ndarray,
    matched_gt: np.ndarray,
    gt_ann_ids: np.ndarray,
    gt_ignore: np.ndarray,
    det_outside: np.ndarray,
    num_thrs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(T, A, D) true and false positives; a detection that is neither is ignored.

    A match to an ignored gt is ignored; an unmatched detection outside the area range
    is ignored. As in pycocotools a match is recorded by the gt's annotation id, so a
    match to an annotation with id 0 reads as no match.
    """
    num_areas, num_dets = det_outside.shape
    true_pos = np.zeros((num_thrs, num_areas, num_dets), dtype=bool)
    false_pos = np.broadcast_to(~det_outside, true_pos.shape).copy()
    has_match = matched_gt >= 0
    gt_idx = np.where(has_match, matched_gt, 0)
    counted = has_match & (gt_ann_ids[gt_idx] != 0)
    ignored = has_match & gt_ignore[np.arange(num_areas)[None, :, None], gt_idx]
    ignored |= ~counted & det_outside[:, matched_dets][None]
    true_pos[:, :, matched_dets] = counted & ~ignored
    false_pos[:, :, matched_dets] = ~counted & ~ignored
    return true_pos, false_pos


def _summary_settings(p: CocoEvalParams) -> list[tuple[bool, float | None, str, int]]:
    """(is AP, IoU threshold or None for all, area label, max dets) of each stat, as summarize."""
    m = p.max_dets
    return [
        (True, None, "all", 100), (True, 0.5, "all", m[2]), (True, 0.75, "all", m[2]),
        (True, None, "small", m[2]), (True, None, "medium", m[2]), (True, None, "large", m[2]),
        (False, None, "all", m[0]), (False, None, "all", m[1]), (False, None, "all", m[2]),
        (False, None, "small", m[2]), (False, None, "medium", m[2]), (False, None, "large", m[2]),
    ]  # fmt: skip


def _stats(curves: CocoCurves, p: CocoEvalParams) -> np.ndarray:
    """COCOeval.summarize's numbers: the mean of the defined (> -1) entries, else -1."""
    stats = np.zeros(12)
    for i, (is_ap, iou_thr, area, max_det) in enumerate(_summary_settings(p)):
        a = [j for j, label in enumerate(p.area_labels) if label == area]
        m = [j for j, value in enumerate(p.max_dets) if value == max_det]
        s = curves.precision if is_ap else curves.recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == p.iou_thrs)[0]]
        s = s[:, :, :, a, m] if is_ap else s[:, :, a, m]
        stats[i] = np.mean(s[s > -1]) if np.any(s > -1) else -1
    return stats
