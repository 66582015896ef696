"""Which priors a sampler picked as positives and negatives, with their training targets."""

from __future__ import annotations

import torch
from torch import Tensor

from detcore.structures import BaseBoxes
from detcore.structures.bbox import cat_boxes

from ..assigners import AssignResult


class SamplingResult:
    """Positive and negative samples of one image.

    Attributes:
        pos_inds, neg_inds: indices into the priors (gt boxes first when they were added).
        pos_priors, neg_priors: the sampled priors.
        pos_is_gt: (num_pos,) uint8, 1 where the positive is a gt box added as a proposal.
        pos_assigned_gt_inds: (num_pos,) index of each positive's gt (0-based).
        pos_gt_bboxes, pos_gt_labels: the box and class of each positive's gt.
        num_pos, num_neg: counts, at least 1 (they are used as divisors).
        avg_factor: num_pos + num_neg, or num_pos when ``avg_factor_with_neg`` is False.
    """

    def __init__(self, pos_inds: Tensor, neg_inds: Tensor, priors: Tensor | BaseBoxes,
                 gt_bboxes: Tensor | BaseBoxes, assign_result: AssignResult, gt_flags: Tensor,
                 avg_factor_with_neg: bool = True) -> None:
        self.pos_inds = pos_inds
        self.neg_inds = neg_inds
        self.num_pos = max(pos_inds.numel(), 1)
        self.num_neg = max(neg_inds.numel(), 1)
        self.avg_factor_with_neg = avg_factor_with_neg
        self.avg_factor = self.num_pos + self.num_neg if avg_factor_with_neg else self.num_pos
        self.pos_priors = priors[pos_inds]
        self.neg_priors = priors[neg_inds]
        self.pos_is_gt = gt_flags[pos_inds]
        self.num_gts = gt_bboxes.shape[0]
        self.pos_assigned_gt_inds = assign_result.gt_inds[pos_inds] - 1
        self.pos_gt_labels = assign_result.labels[pos_inds]
        box_dim = gt_bboxes.box_dim if isinstance(gt_bboxes, BaseBoxes) else 4
        if gt_bboxes.numel() == 0:
            if self.pos_assigned_gt_inds.numel() != 0:
                raise ValueError("SamplingResult: positives were sampled but there is no gt box")
            self.pos_gt_bboxes = gt_bboxes.view(-1, box_dim)
        else:
            if len(gt_bboxes.shape) < 2:
                gt_bboxes = gt_bboxes.view(-1, box_dim)
            self.pos_gt_bboxes = gt_bboxes[self.pos_assigned_gt_inds.long()]

    @property
    def priors(self) -> Tensor | BaseBoxes:
        """Positive then negative priors."""
        return cat_boxes([self.pos_priors, self.neg_priors])

    def to(self, device: str | torch.device) -> SamplingResult:
        """Move every tensor (and box) attribute to ``device``, in place."""
        for key, value in vars(self).items():
            if isinstance(value, (Tensor, BaseBoxes)):
                setattr(self, key, value.to(device))
        return self

    @property
    def info(self) -> dict:
        """The main attributes by name."""
        return {"pos_inds": self.pos_inds, "neg_inds": self.neg_inds,
                "pos_priors": self.pos_priors, "neg_priors": self.neg_priors,
                "pos_is_gt": self.pos_is_gt, "num_gts": self.num_gts,
                "pos_assigned_gt_inds": self.pos_assigned_gt_inds, "num_pos": self.num_pos,
                "num_neg": self.num_neg, "avg_factor": self.avg_factor}

    def __repr__(self) -> str:
        data = dict(self.info)
        data["pos_priors"] = tuple(data["pos_priors"].shape)
        data["neg_priors"] = tuple(data["neg_priors"].shape)
        body = ",\n    ".join(f"{key!r}: {value!r}" for key, value in sorted(data.items()))
        return f"<SamplingResult({{\n    {body}\n}})>"
