"""COCOeval's greedy matching of detections to ground truths, for all groups at once.

Within a group (an image and category), detections are taken in score order; each takes
the still-free ground truth with the highest IoU at or above the threshold, preferring
non-ignored ground truths over ignored ones; among equal IoUs the one listed last wins
(pycocotools replaces its best match on ``>=``). Crowd regions are never used up.

The only sequential dependency is "free": a gt taken by a higher-scoring detection of
the same group. So the loop runs over the rank of a detection inside its group (at most
``maxDets`` steps), and each step decides the detections of that rank in every group,
for every IoU threshold and area range, with array operations.
"""

from __future__ import annotations

import numpy as np


def greedy_match(
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_iou: np.ndarray,
    det_rank: np.ndarray,
    gt_ignore: np.ndarray,
    gt_crowd: np.ndarray,
    iou_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Match detections to ground truths as ``COCOeval.evaluateImg`` does.

    Args:
        pair_det, pair_gt: (P,) candidate pairs of the same group, with
        pair_iou: (P,) their IoU; pairs below every threshold may be left out.
        det_rank: (D,) position of each detection in its group's score order.
        gt_ignore: (A, G) bool, ground truths ignored in each area range (crowd or
            outside the range).
        gt_crowd: (G,) bool, crowd regions (matchable any number of times).
        iou_thrs: (T,) IoU thresholds.

    Returns:
        ``(dets, matched_gt)``: the detections that have candidates, (N,) ascending, and
        (T, A, N) int64 index of the gt each one matched, or -1.
    """
    thresholds = np.minimum(np.asarray(iou_thrs, dtype=np.float64), 1 - 1e-10)
    num_areas, num_thrs = gt_ignore.shape[0], len(thresholds)
    keep = pair_iou >= thresholds.min() if num_thrs else np.zeros(len(pair_iou), bool)
    pair_det, pair_gt, pair_iou = pair_det[keep], pair_gt[keep], pair_iou[keep]
    dets, pair_slot = np.unique(pair_det, return_inverse=True)
    matched = np.full((num_thrs, num_areas, len(dets)), -1, dtype=np.int64)
    if len(pair_det) == 0:
        return dets, matched

    # candidates of a detection are contiguous; detections of one rank are contiguous
    order = np.lexsort((pair_gt, pair_det, det_rank[pair_det]))
    pair_det, pair_gt, pair_iou, pair_slot = pair_det[order], pair_gt[order], pair_iou[order], pair_slot[order]
    new_det = np.r_[True, pair_det[1:] != pair_det[:-1]]
    seg_id = np.cumsum(new_det) - 1
    seg_start = np.flatnonzero(new_det)
    priority = _candidate_priority(seg_id, seg_start, pair_gt, pair_iou, gt_ignore)

    above = pair_iou[None, :] >= thresholds[:, None]  # (T, P)
    crowd = gt_crowd[pair_gt]
    taken = np.zeros((num_thrs, num_areas, len(gt_crowd)), dtype=bool)
    rank_of_seg = det_rank[pair_det[seg_start]]
    rank_bounds = np.flatnonzero(np.r_[True, rank_of_seg[1:] != rank_of_seg[:-1], True])
    for first_seg, end_seg in zip(rank_bounds[:-1], rank_bounds[1:]):
        lo = seg_start[first_seg]
        hi = seg_start[end_seg] if end_seg < len(seg_start) else len(pair_det)
        gts = pair_gt[lo:hi]
        free = above[:, None, lo:hi] & (crowd[lo:hi] | ~taken[:, :, gts])  # (T, A, n)
        key = np.where(free, priority[:, lo:hi], -1)
        local_starts = seg_start[first_seg:end_seg] - lo
        best = np.maximum.reduceat(key, local_starts, axis=2)
        seg_len = np.diff(np.r_[local_starts, hi - lo])
        won = (key == np.repeat(best, seg_len, axis=2)) & (key >= 0)
        t, a, p = np.nonzero(won)
        taken[t, a, gts[p]] = True
        matched[t, a, pair_slot[lo:hi][p]] = gts[p]
    return dets, matched


def _candidate_priority(
    seg_id: np.ndarray, seg_start: np.ndarray, pair_gt: np.ndarray, pair_iou: np.ndarray, gt_ignore: np.ndarray
) -> np.ndarray:
    """(A, P) rank of each candidate within its detection: higher is preferred.

    Order: non-ignored before ignored, then IoU, then later-listed gt (pycocotools keeps
    the last of equal IoUs). Ranks are unique within a detection, so the best free
    candidate is found by a max.
    """
    priority = np.empty((gt_ignore.shape[0], len(pair_gt)), dtype=np.int64)
    for a, ignore in enumerate(gt_ignore):
        order = np.lexsort((pair_gt, pair_iou, ~ignore[pair_gt], seg_id))
        priority[a, order] = np.arange(len(order)) - seg_start[seg_id[order]]
    return priority
