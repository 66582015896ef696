"""Proposal recall with MMDetection's ``eval_recalls`` semantics (CocoMetric 'proposal_fast').

In each image, ground truths and proposals are paired greedily: the pair with the
highest IoU is taken and both leave, then the next (ties: lowest gt, then lowest
proposal index). A gt's IoU is that of its pair, 0 if it got none. Recall at a
threshold is the share of all gts whose IoU reaches it. Boxes are compared in float32
as MMDetection does. The pairing runs for all images at once: each round takes the
best remaining pair of every image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .pairs import group_pairs, mmdet_box_iou


def proposal_recalls(
    gt_boxes: Sequence[np.ndarray],
    proposals: Sequence[np.ndarray],
    proposal_nums: Sequence[int],
    iou_thrs: Sequence[float],
) -> np.ndarray:
    """(len(proposal_nums), len(iou_thrs)) recall using each image's first N proposals.

    Args:
        gt_boxes: per image (G_i, 4) xyxy ground truths (crowd and ignored ones left out).
        proposals: per image (N_i, 4) xyxy proposals, best first.
        proposal_nums: N values; like MMDetection, proposals beyond the last N are never
            looked at (so give them in increasing order).
        iou_thrs: IoU thresholds.
    """
    if len(gt_boxes) != len(proposals):
        raise ValueError(f"{len(gt_boxes)} images of ground truth but {len(proposals)} of proposals")
    iou_thrs = np.atleast_1d(np.asarray(iou_thrs, dtype=np.float64))
    gt_img, gts = _flatten(gt_boxes)
    prop_img, props = _flatten(proposals)
    prop_rank = np.arange(len(prop_img)) - np.searchsorted(prop_img, prop_img, side="left")
    recalls = np.full((len(proposal_nums), len(iou_thrs)), np.nan)
    if len(gts) == 0:
        return recalls
    for k, num in enumerate(proposal_nums):
        used = np.flatnonzero(prop_rank < min(num, proposal_nums[-1]))
        best_iou = _greedy_pair_iou(gt_img, gts, prop_img[used], props[used], iou_thrs.min())
        recalls[k] = (best_iou[None, :] >= iou_thrs[:, None]).sum(axis=1) / len(gts)
    return recalls


def _flatten(per_image: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    boxes = [np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in per_image]
    image = np.repeat(np.arange(len(boxes)), [len(b) for b in boxes])
    return image, np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)


def _greedy_pair_iou(
    gt_img: np.ndarray, gts: np.ndarray, prop_img: np.ndarray, props: np.ndarray, lowest_thr: float
) -> np.ndarray:
    """(G,) float32 IoU of each gt's greedy partner; 0 without one.

    Pairs below the lowest threshold are dropped first: greedy order only reaches them
    once nothing left can count.
    """
    best_iou = np.zeros(len(gts), dtype=np.float32)
    chunks = list(group_pairs(gt_img, prop_img))
    if not chunks:
        return best_iou
    pair_gt, pair_prop = (np.concatenate(c) for c in zip(*chunks))
    iou = mmdet_box_iou(gts[pair_gt], props[pair_prop])
    keep = iou >= lowest_thr
    pair_gt, pair_prop, iou = pair_gt[keep], pair_prop[keep], iou[keep]
    order = np.lexsort((pair_prop, pair_gt, -iou, gt_img[pair_gt]))  # per image, best pair first
    pair_gt, pair_prop, iou, image = pair_gt[order], pair_prop[order], iou[order], gt_img[pair_gt[order]]
    gt_free, prop_free = np.ones(len(gts), bool), np.ones(len(props), bool)
    alive = np.ones(len(iou), bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        first = idx[np.r_[True, image[idx][1:] != image[idx][:-1]]]  # each image's best remaining pair
        best_iou[pair_gt[first]] = iou[first]
        gt_free[pair_gt[first]] = False
        prop_free[pair_prop[first]] = False
        alive &= gt_free[pair_gt] & prop_free[pair_prop]
    return best_iou
