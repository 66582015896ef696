"""One-to-one assignment of DETR-style predictions to ground truths that minimises the sum
of matching costs (Hungarian algorithm, scipy's linear_sum_assignment)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from .assign_result import AssignResult
from .base_assigner import BaseAssigner


class HungarianAssigner(BaseAssigner):
    """Hungarian assigner: each gt gets exactly one prediction (when there are enough);
    the other predictions are negatives. ``max_overlaps`` is None.

    Args:
        match_costs: one cost config or a list of them (summed), e.g.
            [dict(type='FocalLossCost', weight=2.0), dict(type='BBoxL1Cost', weight=5.0),
            dict(type='IoUCost', iou_mode='giou', weight=2.0)].
    """

    def __init__(self, match_costs: Mapping | Sequence[Mapping]) -> None:
        if isinstance(match_costs, Mapping):
            match_costs = [match_costs]
        if len(match_costs) == 0:
            raise ValueError("HungarianAssigner: match_costs must not be empty")
        self.match_costs = [TASK_UTILS.build(cost) for cost in match_costs]

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               img_meta: dict | None = None, **kwargs) -> AssignResult:
        from scipy.optimize import linear_sum_assignment

        gt_labels = gt_instances.labels
        num_gts, num_preds = len(gt_instances), len(pred_instances)
        device = gt_labels.device
        gt_inds = torch.full((num_preds,), -1, dtype=torch.long, device=device)
        labels = torch.full((num_preds,), -1, dtype=torch.long, device=device)
        if num_gts == 0 or num_preds == 0:
            if num_gts == 0:
                gt_inds[:] = 0
            return AssignResult(num_gts, gt_inds, None, labels)

        cost = torch.stack([match_cost(pred_instances=pred_instances, gt_instances=gt_instances,
                                       img_meta=img_meta) for match_cost in self.match_costs]).sum(0)
        rows, cols = linear_sum_assignment(cost.detach().cpu())
        rows = torch.from_numpy(rows).to(device)
        cols = torch.from_numpy(cols).to(device)
        gt_inds[:] = 0
        gt_inds[rows] = cols + 1
        labels[rows] = gt_labels[cols]
        return AssignResult(num_gts, gt_inds, None, labels)
