"""ATSS (Zhang et al., 2020): adaptive training sample selection. Per gt, the ``topk``
priors nearest to its centre on every level are candidates; those whose IoU reaches the
candidates' mean + std and whose centre lies inside the gt are positives."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import accumulate

import torch
from torch import Tensor

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from .assign_result import AssignResult, empty_assignment, labels_of_assigned
from .base_assigner import BaseAssigner
from .candidates import NOT_CANDIDATE, best_candidate_gt, prior_centers_inside_gts

#: distance given to ignored priors so that they are never the nearest
FAR_AWAY = 100000000


def bbox_center_distance(bboxes: Tensor, priors: Tensor) -> Tensor:
    """(N, G) Euclidean distances between the centres of (N, 4) ``priors`` and (G, 4) ``bboxes``."""
    bbox_centers = (bboxes[:, :2] + bboxes[:, 2:4]) / 2.0
    prior_centers = (priors[:, :2] + priors[:, 2:4]) / 2.0
    return (prior_centers[:, None, :] - bbox_centers[None, :, :]).pow(2).sum(-1).sqrt()


class ATSSAssigner(BaseAssigner):
    """ATSS assigner.

    Args:
        topk: candidates per level per gt.
        alpha: when given, the quality is the cost-based mix
            sigmoid(score) ** (1 - alpha) * IoU(pred box, gt) ** alpha (needs ``scores`` and
            ``bboxes`` in pred_instances) instead of the prior-gt IoU.
        iou_calculator: config of the overlap function.
        ignore_iof_thr: priors covered by an ignore box more than this (IoF) are ignored.
    """

    def __init__(self, topk: int, alpha: float | None = None,
                 iou_calculator: dict = dict(type="BboxOverlaps2D"),  # noqa: B006 (never mutated)
                 ignore_iof_thr: float = -1) -> None:
        self.topk = topk
        self.alpha = alpha
        self.iou_calculator = TASK_UTILS.build(iou_calculator)
        self.ignore_iof_thr = ignore_iof_thr

    def assign(self, pred_instances: InstanceData, num_level_priors: Sequence[int],
               gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None) -> AssignResult:
        """Assign ``pred_instances.priors`` (N, 4), grouped by level in ``num_level_priors``,
        to ``gt_instances``.

        ``max_overlaps`` is the quality of the assigned gt, and -1e8 for other priors.
        """
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        priors = pred_instances.priors[:, :4]
        num_gt, num_priors = gt_bboxes.size(0), priors.size(0)
        overlaps = self._quality(pred_instances, priors, gt_bboxes, gt_labels)  # (N, G)
        if num_gt == 0 or num_priors == 0:
            return empty_assignment(num_gt, num_priors, overlaps)

        if sum(num_level_priors) != num_priors:
            raise ValueError(f"num_level_priors {list(num_level_priors)} sums to "
                             f"{sum(num_level_priors)}, but there are {num_priors} priors")
        gt_inds = overlaps.new_zeros((num_priors,), dtype=torch.long)
        distances = bbox_center_distance(gt_bboxes, priors)
        if (self.ignore_iof_thr > 0 and gt_instances_ignore is not None
                and gt_instances_ignore.bboxes.numel() > 0):
            ignore_iof = self.iou_calculator(priors, gt_instances_ignore.bboxes, mode="iof")
            ignored = ignore_iof.max(dim=1).values > self.ignore_iof_thr
            distances[ignored, :] = FAR_AWAY
            gt_inds[ignored] = -1

        candidate_idxs = torch.cat([
            level_distances.topk(min(self.topk, len(level_distances)), dim=0, largest=False)[1] + start
            for level_distances, start in zip(distances.split(list(num_level_priors)),
                                              accumulate(num_level_priors, initial=0))])  # (k, G)
        candidate_overlaps = overlaps.gather(0, candidate_idxs)
        threshold = candidate_overlaps.mean(0) + candidate_overlaps.std(0)
        is_pos = ((candidate_overlaps >= threshold[None, :])
                  & prior_centers_inside_gts(priors, candidate_idxs, gt_bboxes))

        max_overlaps, argmax_overlaps = best_candidate_gt(overlaps, candidate_idxs, is_pos)
        assigned = max_overlaps != NOT_CANDIDATE
        gt_inds[assigned] = argmax_overlaps[assigned] + 1
        return AssignResult(num_gt, gt_inds, max_overlaps, labels_of_assigned(gt_inds, gt_labels))

    def _quality(self, pred_instances: InstanceData, priors: Tensor, gt_bboxes: Tensor,
                 gt_labels: Tensor) -> Tensor:
        """(N, G) prior-gt IoU, or the cost-based quality when ``alpha`` is set."""
        has_predictions = "scores" in pred_instances and "bboxes" in pred_instances
        if self.alpha is None:
            if "scores" in pred_instances or "bboxes" in pred_instances:
                warnings.warn("ATSSAssigner: pred_instances has scores/bboxes but alpha is None, "
                              "so they are not used; set alpha for the cost-based ATSS",
                              stacklevel=3)
            return self.iou_calculator(priors, gt_bboxes)
        if not has_predictions:
            raise ValueError("ATSSAssigner with alpha set needs pred_instances.scores and "
                             "pred_instances.bboxes")
        cls_cost = torch.sigmoid(pred_instances.scores[:, gt_labels])
        overlaps = self.iou_calculator(pred_instances.bboxes, gt_bboxes)
        return cls_cost ** (1 - self.alpha) * overlaps**self.alpha

