"""Online hard example mining (Shrivastava et al., 2016): among the candidates, keep the
ones with the highest classification loss under the current RoI head."""

from __future__ import annotations

import torch
from torch import Tensor

from detcore.structures.bbox import bbox2roi

from ..assigners import AssignResult
from .base_sampler import BaseSampler


class OHEMSampler(BaseSampler):
    """OHEM sampler.

    Args:
        context: the RoI head that owns this sampler; its ``_bbox_forward(feats, rois)`` (or
            ``_bbox_forward(stage, feats, rois)`` for cascades, with ``num_stages`` and
            ``current_stage``) scores candidates and its ``bbox_head.loss`` ranks them.
        loss_key: which entry of the loss dict ranks candidates.
    """

    def __init__(self, num: int, pos_fraction: float, context, neg_pos_ub: int = -1,
                 add_gt_as_proposals: bool = True, loss_key: str = "loss_cls", **kwargs):
        super().__init__(num, pos_fraction, neg_pos_ub, add_gt_as_proposals)
        self.context = context
        if hasattr(context, "num_stages"):
            self.bbox_head = context.bbox_head[context.current_stage]
        else:
            self.bbox_head = context.bbox_head
        self.loss_key = loss_key

    def hard_mining(self, inds: Tensor, num_expected: int, bboxes: Tensor, labels: Tensor,
                    feats) -> Tensor:
        """The ``num_expected`` of ``inds`` whose boxes have the largest loss."""
        with torch.no_grad():
            rois = bbox2roi([bboxes])
            if hasattr(self.context, "num_stages"):
                bbox_results = self.context._bbox_forward(self.context.current_stage, feats, rois)
            else:
                bbox_results = self.context._bbox_forward(feats, rois)
            cls_score = bbox_results["cls_score"]
            loss = self.bbox_head.loss(
                cls_score=cls_score, bbox_pred=None, rois=rois, labels=labels,
                label_weights=cls_score.new_ones(cls_score.size(0)), bbox_targets=None,
                bbox_weights=None, reduction_override="none")[self.loss_key]
            _, hardest = loss.topk(num_expected)
        return inds[hardest]

    def _sample_pos(self, assign_result: AssignResult, num_expected: int, bboxes=None,
                    feats=None, **kwargs) -> Tensor:
        pos_inds = torch.nonzero(assign_result.gt_inds > 0, as_tuple=False).squeeze(1)
        if pos_inds.numel() <= num_expected:
            return pos_inds
        return self.hard_mining(pos_inds, num_expected, bboxes[pos_inds],
                                assign_result.labels[pos_inds], feats)

    def _sample_neg(self, assign_result: AssignResult, num_expected: int, bboxes=None,
                    feats=None, **kwargs) -> Tensor:
        neg_inds = torch.nonzero(assign_result.gt_inds == 0, as_tuple=False).squeeze(1)
        if neg_inds.numel() <= num_expected:
            return neg_inds
        background = assign_result.labels.new_full((neg_inds.size(0),), self.bbox_head.num_classes)
        return self.hard_mining(neg_inds, num_expected, bboxes[neg_inds], background, feats)
