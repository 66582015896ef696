"""Uniformly random positives and negatives (Faster R-CNN's RPN and RoI sampling)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..assigners import AssignResult
from .base_sampler import BaseSampler


class RandomSampler(BaseSampler):
    """Draw positives and negatives uniformly at random (torch's global generator, so
    ``torch.manual_seed`` makes it reproducible)."""

    def __init__(self, num: int, pos_fraction: float, neg_pos_ub: int = -1,
                 add_gt_as_proposals: bool = True, **kwargs):
        super().__init__(num=num, pos_fraction=pos_fraction, neg_pos_ub=neg_pos_ub,
                         add_gt_as_proposals=add_gt_as_proposals)

    def random_choice(self, gallery: Tensor, num: int) -> Tensor:
        """``num`` distinct random elements of the 1-D tensor ``gallery``."""
        if len(gallery) < num:
            raise ValueError(f"cannot choose {num} elements from a gallery of {len(gallery)}")
        perm = torch.randperm(gallery.numel())[:num].to(device=gallery.device)
        return gallery[perm]

    def _sample_pos(self, assign_result: AssignResult, num_expected: int, **kwargs) -> Tensor:
        return self._choose(assign_result.gt_inds > 0, num_expected)

    def _sample_neg(self, assign_result: AssignResult, num_expected: int, **kwargs) -> Tensor:
        return self._choose(assign_result.gt_inds == 0, num_expected)

    def _choose(self, candidates: Tensor, num_expected: int) -> Tensor:
        inds = torch.nonzero(candidates, as_tuple=False).squeeze(1)
        return inds if inds.numel() <= num_expected else self.random_choice(inds, num_expected)
