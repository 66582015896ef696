"""The last step shared by ATSS and TOOD's task-aligned assigner: among each gt's candidate
priors, keep those whose centre lies inside the gt, then give every prior the candidate gt
it overlaps most."""

from __future__ import annotations

import torch
from torch import Tensor

#: marks (prior, gt) pairs that are not positive candidates
NOT_CANDIDATE = -100000000.0


def prior_centers_inside_gts(priors: Tensor, candidate_idxs: Tensor, gt_bboxes: Tensor,
                             margin: float = 0.01) -> Tensor:
    """(k, G) whether the centre of prior ``candidate_idxs[j, g]`` lies inside gt g by more
    than ``margin`` pixels on every side. ``priors`` (N, 4) xyxy, ``gt_bboxes`` (G, 4)."""
    centers = (priors[:, :2] + priors[:, 2:4]) / 2.0
    cx, cy = centers[candidate_idxs, 0], centers[candidate_idxs, 1]  # (k, G)
    distances = torch.stack([cx - gt_bboxes[:, 0], cy - gt_bboxes[:, 1],
                             gt_bboxes[:, 2] - cx, gt_bboxes[:, 3] - cy], dim=1)
    return distances.min(dim=1).values > margin


def best_candidate_gt(overlaps: Tensor, candidate_idxs: Tensor,
                      is_pos: Tensor) -> tuple[Tensor, Tensor]:
    """For every prior, its largest overlap over the gts that chose it as a positive candidate.

    Args:
        overlaps: (N, G) prior-gt overlaps.
        candidate_idxs: (k, G) candidate prior indices per gt (distinct within a column).
        is_pos: (k, G) which candidates are positive.

    Returns:
        (N,) max overlap (``NOT_CANDIDATE`` for priors no gt chose) and (N,) its gt index.
    """
    gt_idxs = torch.arange(overlaps.size(1), device=overlaps.device).expand_as(candidate_idxs)
    rows, cols = candidate_idxs[is_pos], gt_idxs[is_pos]
    candidate_overlaps = torch.full_like(overlaps, NOT_CANDIDATE)
    candidate_overlaps[rows, cols] = overlaps[rows, cols]
    return candidate_overlaps.max(dim=1)
