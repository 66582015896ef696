"""COCOeval.accumulate: precision/recall curves from matched detections, vectorised.

Per category, area range, max-detections limit and IoU threshold, pycocotools sorts the
detections by score, takes cumulative true/false positives, makes precision monotone
from the right (the envelope) and reads it at 101 recall thresholds. This module gives
the same numbers without a Python loop over categories or thresholds:

- detections that are ignored, or beyond the ``maxDets`` limit of their image, change
  neither count, so they can stay in the sequence (the envelope and the recall lookup
  are the same without them); one global sort therefore serves every setting;
- the envelope only peaks at true positives, so precision is needed only there;
- "first index with recall >= r" is "the j-th true positive" for the smallest integer j
  with j / npig >= r, found exactly in integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CocoCurves:
    """COCOeval's ``eval`` arrays; -1 where a category has no non-ignored gt."""

    precision: np.ndarray  # (T, R, K, A, M)
    recall: np.ndarray  # (T, K, A, M)
    scores: np.ndarray  # (T, R, K, A, M)


def accumulate(
    true_pos: np.ndarray,
    false_pos: np.ndarray,
    det_cat: np.ndarray,
    det_img: np.ndarray,
    det_rank: np.ndarray,
    det_score: np.ndarray,
    num_pos: np.ndarray,
    max_dets: np.ndarray,
    rec_thrs: np.ndarray,
) -> CocoCurves:
    """Precision, recall and score curves as ``COCOeval.accumulate`` computes them.

    Args:
        true_pos, false_pos: (T, A, D) bool per IoU threshold and area range (a
            detection that is neither is ignored).
        det_cat: (D,) category index 0..K-1 (0 for class-agnostic evaluation).
        det_img: (D,) image index (position in the sorted image ids).
        det_rank: (D,) position of the detection in its image-category's score order.
        det_score: (D,) float64 scores.
        num_pos: (K, A) number of non-ignored ground truths.
        max_dets: (M,) maximum detections per image.
        rec_thrs: (R,) recall thresholds.
    """
    num_thrs, num_areas, num_dets = true_pos.shape
    num_cats = num_pos.shape[0]
    shape = (num_thrs, len(rec_thrs), num_cats, num_areas, len(max_dets))
    precision, scores = -np.ones(shape), -np.ones(shape)
    recall = -np.ones((num_thrs, num_cats, num_areas, len(max_dets)))

    # pycocotools concatenates images in id order, each already in score order, then
    # sorts stably by score: ties go to the earlier image, then the earlier rank
    order = np.lexsort((det_rank, det_img, -det_score, det_cat))
    true_pos, false_pos = np.take(true_pos, order, axis=2), np.take(false_pos, order, axis=2)
    det_cat, det_rank, det_score = det_cat[order], det_rank[order], det_score[order]
    seg_start = np.searchsorted(det_cat, np.arange(num_cats), side="left")
    seg_end = np.searchsorted(det_cat, np.arange(num_cats), side="right")

    for m, max_det in enumerate(max_dets):
        included = det_rank < max_det
        first_score = _first_included_score(included, det_score, seg_start, seg_end)
        for a in range(num_areas):
            has_pos = num_pos[:, a] > 0  # (K,)
            needed = _true_positives_needed(num_pos[:, a], rec_thrs)  # (K, R)
            tp_at = np.flatnonzero(true_pos[:, a] & included)  # flat (T, D) positions, row-major
            # false positives before each position of a row (an int8 view adds up much faster than bool)
            fp_before = np.zeros((num_thrs, num_dets + 1), dtype=np.int32)
            np.add.accumulate((false_pos[:, a] & included).view(np.int8), axis=1, dtype=np.int32, out=fp_before[:, 1:])
            row, pos = np.divmod(tp_at, num_dets)
            group = row * num_cats + det_cat[pos]  # (t, k) of each true positive, ascending
            count = np.bincount(group, minlength=num_thrs * num_cats).reshape(num_thrs, num_cats)
            group_first = (np.cumsum(count) - count.ravel()).reshape(num_thrs, num_cats)
            tp_cum = np.arange(1, len(tp_at) + 1) - group_first.ravel()[group]
            fp_cum = fp_before[row, pos] - fp_before[row, seg_start[det_cat[pos]]]
            tp_precision = tp_cum / (fp_cum + tp_cum + np.spacing(1))

            recall[:, :, a, m] = np.where(has_pos, count / np.maximum(num_pos[:, a], 1), -1)
            # the j-th true positive is where recall first reaches r (j = 0: the first detection)
            j = np.maximum(needed, 1)[None]  # (1, K, R)
            found = (j <= count[:, :, None]) & has_pos[None, :, None]  # (T, K, R)
            query = (group_first[:, :, None] + j - 1)[found]
            end = np.broadcast_to((group_first + count)[:, :, None], found.shape)[found]
            envelope = _range_max(tp_precision, query, end)
            prec = np.zeros(found.shape)
            prec[found] = envelope
            score = np.zeros(found.shape)
            score[found] = det_score[pos[query]]
            at_start = (needed == 0)[None] & has_pos[None, :, None] & ~np.isnan(first_score)[None, :, None]
            score = np.where(at_start, first_score[None, :, None], score)
            precision[:, :, :, a, m] = np.where(has_pos[None, :, None], prec, -1).transpose(0, 2, 1)
            scores[:, :, :, a, m] = np.where(has_pos[None, :, None], score, -1).transpose(0, 2, 1)
    return CocoCurves(precision, recall, scores)


def _true_positives_needed(num_pos: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """(K, R) smallest integer j with float64 ``j / num_pos >= r`` (as pycocotools compares)."""
    n = np.maximum(num_pos, 1).astype(np.float64)[:, None]
    j = np.maximum(np.ceil(rec_thrs[None, :] * n), 0)
    j = np.where((j >= 1) & ((j - 1) / n >= rec_thrs), j - 1, j)  # ceil rounded up too far
    j = np.where(j / n < rec_thrs, j + 1, j)  # ceil rounded down too far
    return j.astype(np.int64)


def _range_max(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """max(values[start[i]:end[i]]) for every i (each range non-empty)."""
    if len(start) == 0:
        return np.zeros(0)
    padded = np.append(values, 0.0)  # reduceat needs every index, `end` included, in range
    return np.maximum.reduceat(padded, np.stack([start, end], axis=1).ravel())[::2]


def _first_included_score(
    included: np.ndarray, det_score: np.ndarray, seg_start: np.ndarray, seg_end: np.ndarray
) -> np.ndarray:
    """(K,) score of each category's first counted detection, NaN when it has none."""
    positions = np.flatnonzero(included)
    if len(positions) == 0:
        return np.full(len(seg_start), np.nan)
    idx = np.minimum(np.searchsorted(positions, seg_start), len(positions) - 1)
    first = positions[idx]
    return np.where((first >= seg_start) & (first < seg_end), det_score[first], np.nan)
