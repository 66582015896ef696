"""The common sampling procedure: optionally add the gt boxes as proposals, draw up to
``num * pos_fraction`` positives, then fill ``num`` with negatives (at most ``neg_pos_ub``
per positive). Subclasses decide which positives and negatives (``_sample_pos`` /
``_sample_neg``)."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import Tensor

from detcore.structures import BaseBoxes, InstanceData
from detcore.structures.bbox import cat_boxes

from ..assigners import AssignResult
from .sampling_result import SamplingResult


class BaseSampler(metaclass=ABCMeta):
    """Base of samplers that draw a fixed number of samples per image.

    Args:
        num: samples per image.
        pos_fraction: upper bound on the fraction of positives.
        neg_pos_ub: at most this many negatives per positive; negative disables.
        add_gt_as_proposals: prepend the gt boxes to the priors (as positives of themselves).
    """

    def __init__(self, num: int, pos_fraction: float, neg_pos_ub: int = -1,
                 add_gt_as_proposals: bool = True, **kwargs) -> None:
        self.num = num
        self.pos_fraction = pos_fraction
        self.neg_pos_ub = neg_pos_ub
        self.add_gt_as_proposals = add_gt_as_proposals
        self.pos_sampler = self
        self.neg_sampler = self

    @abstractmethod
    def _sample_pos(self, assign_result: AssignResult, num_expected: int, **kwargs) -> Tensor:
        """Indices of at most ``num_expected`` positives."""

    @abstractmethod
    def _sample_neg(self, assign_result: AssignResult, num_expected: int, **kwargs) -> Tensor:
        """Indices of at most ``num_expected`` negatives."""

    def sample(self, assign_result: AssignResult, pred_instances: InstanceData,
               gt_instances: InstanceData, **kwargs) -> SamplingResult:
        """Sample from ``pred_instances.priors`` (N, 4) given their assignment to
        ``gt_instances`` (``bboxes``, ``labels``). ``assign_result`` is extended in place
        when gt boxes are added."""
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        priors = pred_instances.priors
        if len(priors.shape) < 2:
            priors = priors[None, :]
        gt_flags = priors.new_zeros((priors.shape[0],), dtype=torch.uint8)
        if self.add_gt_as_proposals and len(gt_bboxes) > 0:
            if isinstance(gt_bboxes, BaseBoxes) and isinstance(priors, BaseBoxes):
                gt_bboxes_as_priors = gt_bboxes.convert_to(type(priors))
            else:
                gt_bboxes_as_priors = gt_bboxes
            priors = cat_boxes([gt_bboxes_as_priors, priors], dim=0)
            assign_result.add_gt_(gt_labels)
            gt_flags = torch.cat([priors.new_ones(gt_bboxes_as_priors.shape[0], dtype=torch.uint8),
                                  gt_flags])

        num_expected_pos = int(self.num * self.pos_fraction)
        pos_inds = self.pos_sampler._sample_pos(assign_result, num_expected_pos, bboxes=priors,
                                                **kwargs).unique()
        num_expected_neg = self.num - pos_inds.numel()
        if self.neg_pos_ub >= 0:
            num_expected_neg = min(num_expected_neg,
                                   int(self.neg_pos_ub * max(1, pos_inds.numel())))
        neg_inds = self.neg_sampler._sample_neg(assign_result, num_expected_neg, bboxes=priors,
                                                **kwargs).unique()
        return SamplingResult(pos_inds=pos_inds, neg_inds=neg_inds, priors=priors,
                              gt_bboxes=gt_bboxes, assign_result=assign_result, gt_flags=gt_flags)
