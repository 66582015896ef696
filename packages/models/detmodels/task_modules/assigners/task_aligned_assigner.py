"""TOOD's task-aligned assignment (Feng et al., 2021): per gt, the ``topk`` predictions with
the highest alignment metric score ** alpha * IoU ** beta whose prior centre lies inside the
gt are positives."""

from __future__ import annotations

import torch

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from .assign_result import AssignResult, empty_assignment, labels_of_assigned
from .base_assigner import BaseAssigner
from .candidates import NOT_CANDIDATE, best_candidate_gt, prior_centers_inside_gts


class TaskAlignedAssigner(BaseAssigner):
    """Task-aligned assigner.

    Args:
        topk: candidates per gt.
        iou_calculator: config of the overlap function.
    """

    def __init__(self, topk: int,
                 iou_calculator: dict = dict(type="BboxOverlaps2D")):  # noqa: B006 (never mutated)
        if topk < 1:
            raise ValueError(f"TaskAlignedAssigner: topk must be >= 1, but got {topk}")
        self.topk = topk
        self.iou_calculator = TASK_UTILS.build(iou_calculator)

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None, alpha: float = 1,
               beta: float = 6) -> AssignResult:
        """Assign from ``pred_instances`` ``priors`` (N, 4), decoded ``bboxes`` (N, 4) and
        ``scores`` (N, C) (probabilities).

        The result's ``max_overlaps`` is the IoU with the assigned gt (-1e8 elsewhere) and its
        ``assign_metrics`` (N,) the alignment metric (0 elsewhere).
        """
        priors = pred_instances.priors[:, :4]
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        num_gt, num_priors = gt_bboxes.size(0), priors.size(0)
        overlaps = self.iou_calculator(pred_instances.bboxes, gt_bboxes).detach()  # (N, G)
        bbox_scores = pred_instances.scores[:, gt_labels].detach()
        assign_metrics = priors.new_zeros((num_priors,))
        if num_gt == 0 or num_priors == 0:
            result = empty_assignment(num_gt, num_priors, priors)
            result.assign_metrics = assign_metrics
            return result

        alignment_metrics = bbox_scores**alpha * overlaps**beta
        _, candidate_idxs = alignment_metrics.topk(min(self.topk, num_priors), dim=0, largest=True)
        is_pos = ((alignment_metrics.gather(0, candidate_idxs) > 0)
                  & prior_centers_inside_gts(priors, candidate_idxs, gt_bboxes))
        max_overlaps, argmax_overlaps = best_candidate_gt(overlaps, candidate_idxs, is_pos)
        assigned = max_overlaps != NOT_CANDIDATE
        gt_inds = priors.new_zeros((num_priors,), dtype=torch.long)
        gt_inds[assigned] = argmax_overlaps[assigned] + 1
        assign_metrics[assigned] = alignment_metrics[assigned, argmax_overlaps[assigned]]
        result = AssignResult(num_gt, gt_inds, max_overlaps, labels_of_assigned(gt_inds, gt_labels))
        result.assign_metrics = assign_metrics
        return result
