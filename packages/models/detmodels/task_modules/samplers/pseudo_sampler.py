"""All positives and all negatives, no sampling (dense one-stage heads)."""

from __future__ import annotations

import torch

from detcore.structures import InstanceData

from ..assigners import AssignResult
from .base_sampler import BaseSampler
from .sampling_result import SamplingResult


class PseudoSampler(BaseSampler):
    """Returns every positive and every negative of the assignment; the result's
    ``avg_factor`` counts positives only."""

    def __init__(self, **kwargs):
        pass

    def _sample_pos(self, **kwargs):
        raise NotImplementedError("PseudoSampler takes every positive; call sample()")

    def _sample_neg(self, **kwargs):
        raise NotImplementedError("PseudoSampler takes every negative; call sample()")

    def sample(self, assign_result: AssignResult, pred_instances: InstanceData,
               gt_instances: InstanceData, *args, **kwargs) -> SamplingResult:
        priors = pred_instances.priors
        pos_inds = torch.nonzero(assign_result.gt_inds > 0, as_tuple=False).squeeze(-1).unique()
        neg_inds = torch.nonzero(assign_result.gt_inds == 0, as_tuple=False).squeeze(-1).unique()
        gt_flags = priors.new_zeros(priors.shape[0], dtype=torch.uint8)
        return SamplingResult(pos_inds=pos_inds, neg_inds=neg_inds, priors=priors,
                              gt_bboxes=gt_instances.bboxes, assign_result=assign_result,
                              gt_flags=gt_flags, avg_factor_with_neg=False)
