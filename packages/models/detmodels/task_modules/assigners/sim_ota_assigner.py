"""SimOTA (YOLOX, Ge et al., 2021): optimal-transport-like assignment with a dynamic number
of positives per gt. Candidates are priors whose centre lies in a gt box or in the
``center_radius``-stride square around a gt centre; each gt takes its k lowest-cost
candidates, k = the sum of its ``candidate_topk`` best IoUs (at least 1); a prior claimed by
several gts keeps the cheapest."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from .assign_result import AssignResult, empty_assignment
from .base_assigner import BaseAssigner

#: cost added to pairs whose prior is not both in the gt box and in its centre region
INF = 100000.0
EPS = 1e-7


class SimOTAAssigner(BaseAssigner):
    """SimOTA assigner.

    Args:
        center_radius: half side of the centre region, in strides.
        candidate_topk: IoUs summed to get each gt's number of positives.
        iou_weight, cls_weight: weights of the -log(IoU) and the classification costs.
        iou_calculator: config of the overlap function.
    """

    def __init__(self, center_radius: float = 2.5, candidate_topk: int = 10,
                 iou_weight: float = 3.0, cls_weight: float = 1.0,
                 iou_calculator: dict = dict(type="BboxOverlaps2D")):  # noqa: B006 (never mutated)
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight
        self.iou_calculator = TASK_UTILS.build(iou_calculator)

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None, **kwargs) -> AssignResult:
        """Assign from ``pred_instances`` ``priors`` (N, 4) (x, y, stride_w, stride_h),
        decoded ``bboxes`` (N, 4) and ``scores`` (N, C) (probabilities).

        ``max_overlaps`` is the IoU with the assigned gt, -1e5 for priors outside every
        candidate region.
        """
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        num_gt = gt_bboxes.size(0)
        decoded_bboxes, pred_scores = pred_instances.bboxes, pred_instances.scores
        num_bboxes = decoded_bboxes.size(0)
        if num_gt == 0 or num_bboxes == 0:
            return empty_assignment(num_gt, num_bboxes, decoded_bboxes)

        valid_mask, is_in_boxes_and_center = self.get_in_gt_and_in_center_info(
            pred_instances.priors, gt_bboxes)
        valid_bboxes, valid_scores = decoded_bboxes[valid_mask], pred_scores[valid_mask]
        num_valid = valid_bboxes.size(0)
        if num_valid == 0:
            return empty_assignment(num_gt, num_bboxes, decoded_bboxes)

        pairwise_ious = self.iou_calculator(valid_bboxes, gt_bboxes)  # (V, G)
        iou_cost = -torch.log(pairwise_ious + EPS)
        cls_cost = self._classification_cost(valid_scores, gt_labels)
        cost = cls_cost * self.cls_weight + iou_cost * self.iou_weight + (~is_in_boxes_and_center) * INF

        matched, matched_gt_inds = self.dynamic_k_matching(cost, pairwise_ious, num_gt)
        valid_idxs = valid_mask.nonzero().squeeze(1)[matched]
        gt_inds = decoded_bboxes.new_zeros((num_bboxes,), dtype=torch.long)
        gt_inds[valid_idxs] = matched_gt_inds + 1
        labels = gt_inds.new_full((num_bboxes,), -1)
        labels[valid_idxs] = gt_labels[matched_gt_inds].long()
        max_overlaps = decoded_bboxes.new_full((num_bboxes,), -INF, dtype=torch.float32)
        max_overlaps[valid_idxs] = pairwise_ious[matched, matched_gt_inds].float()
        return AssignResult(num_gt, gt_inds, max_overlaps, labels)

    @staticmethod
    def _classification_cost(scores: Tensor, gt_labels: Tensor) -> Tensor:
        """(V, G) binary cross-entropy of (V, C) probabilities against each gt's one-hot
        label, summed over classes, without the (V, G, C) temporary: every class's
        "against 0" term, with the gt class's term swapped for its "against 1" term. Logs are
        clamped at -100 as in F.binary_cross_entropy; computed in float32."""
        probs = scores.float()
        log_p = torch.log(probs).clamp(min=-100)
        log_not_p = torch.log(1 - probs).clamp(min=-100)
        all_negative = -log_not_p.sum(dim=-1, keepdim=True)
        return (all_negative + (log_not_p - log_p)[:, gt_labels.long()]).to(scores.dtype)

    def get_in_gt_and_in_center_info(self, priors: Tensor, gt_bboxes: Tensor) -> tuple[Tensor, Tensor]:
        """(N,) priors inside some gt box or centre region, and, for those V priors, (V, G)
        whether each is inside both the box and the centre region of each gt."""
        x, y = priors[:, 0:1], priors[:, 1:2]  # (N, 1)
        stride_x, stride_y = priors[:, 2:3], priors[:, 3:4]
        in_gts = torch.stack([x - gt_bboxes[:, 0], y - gt_bboxes[:, 1],
                              gt_bboxes[:, 2] - x, gt_bboxes[:, 3] - y], dim=1).min(dim=1).values > 0
        gt_cx = (gt_bboxes[:, 0] + gt_bboxes[:, 2]) / 2.0
        gt_cy = (gt_bboxes[:, 1] + gt_bboxes[:, 3]) / 2.0
        radius_x, radius_y = self.center_radius * stride_x, self.center_radius * stride_y
        in_centers = torch.stack([x - (gt_cx - radius_x), y - (gt_cy - radius_y),
                                  (gt_cx + radius_x) - x, (gt_cy + radius_y) - y],
                                 dim=1).min(dim=1).values > 0  # (N, G)
        valid = in_gts.any(dim=1) | in_centers.any(dim=1)
        return valid, in_gts[valid] & in_centers[valid]

    def dynamic_k_matching(self, cost: Tensor, pairwise_ious: Tensor,
                           num_gt: int) -> tuple[Tensor, Tensor]:
        """Match (V, G) candidates to gts.

        Returns:
            (V,) which candidates are matched, and (M,) the gt index of each matched one.
        """
        candidate_topk = min(self.candidate_topk, pairwise_ious.size(0))
        topk_ious, _ = torch.topk(pairwise_ious, candidate_topk, dim=0)
        dynamic_ks = torch.clamp(topk_ious.sum(0).int(), min=1)  # (G,)
        _, cheapest = torch.topk(cost, k=int(dynamic_ks.max()), dim=0, largest=False)  # (K, G)
        take = torch.arange(cheapest.size(0), device=cost.device)[:, None] < dynamic_ks[None, :]
        matching = torch.zeros_like(cost, dtype=torch.bool)
        matching[cheapest[take], torch.arange(num_gt, device=cost.device).expand_as(cheapest)[take]] = True
        multiple = matching.sum(1) > 1
        if multiple.any():
            matching[multiple] = F.one_hot(cost[multiple].argmin(dim=1), num_gt).bool()
        matched = matching.any(dim=1)
        return matched, matching[matched].long().argmax(dim=1)
