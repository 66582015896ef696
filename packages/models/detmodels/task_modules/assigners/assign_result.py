"""What an assigner decides for each prediction (prior): which ground truth it learns from."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class AssignResult:
    """Assignment of N predictions to ``num_gts`` ground-truth boxes.

    Attributes:
        num_gts: number of ground truths considered.
        gt_inds: (N,) int64: 0 = negative (background), -1 = ignored, i + 1 = matched to gt i.
        max_overlaps: (N,) the overlap (or quality) of each prediction with its assigned gt
            (assigner-specific for unassigned ones); None for HungarianAssigner.
        labels: (N,) int64 class of the assigned gt, -1 where there is none.

    Example (MMDetection's documented one):
        >>> result = AssignResult(9, torch.LongTensor([-1, 1, 2, 0]),
        ...                       torch.FloatTensor([0, .5, .9, 0]), torch.LongTensor([0, 3, 4, 0]))
        >>> result.add_gt_(torch.LongTensor([3, 4, 5]))
        >>> result
        <AssignResult(num_gts=9, gt_inds.shape=(7,), max_overlaps.shape=(7,), labels.shape=(7,))>
    """

    def __init__(self, num_gts: int, gt_inds: Tensor, max_overlaps: Tensor | None,
                 labels: Tensor | None) -> None:
        self.num_gts = num_gts
        self.gt_inds = gt_inds
        self.max_overlaps = max_overlaps
        self.labels = labels
        self._extra_properties: dict[str, Any] = {}

    @property
    def num_preds(self) -> int:
        """Number of predictions (priors) assigned."""
        return len(self.gt_inds)

    def set_extra_property(self, key: str, value: Any) -> None:
        """Attach assigner-specific information (e.g. a per-prediction metric)."""
        if key in self.info:
            raise KeyError(f"AssignResult already has a property named {key!r}")
        self._extra_properties[key] = value

    def get_extra_property(self, key: str) -> Any:
        """An extra property, or None when it was not set."""
        return self._extra_properties.get(key)

    @property
    def info(self) -> dict[str, Any]:
        """Every property by name, extra ones included."""
        return {"num_gts": self.num_gts, "num_preds": self.num_preds, "gt_inds": self.gt_inds,
                "max_overlaps": self.max_overlaps, "labels": self.labels,
                **self._extra_properties}

    def add_gt_(self, gt_labels: Tensor) -> None:
        """Prepend the ground truths themselves as predictions matched to themselves (overlap
        1), as samplers do when gt boxes are added to the proposals."""
        self_inds = torch.arange(1, len(gt_labels) + 1, dtype=torch.long, device=gt_labels.device)
        self.gt_inds = torch.cat([self_inds, self.gt_inds])
        self.max_overlaps = torch.cat([self.max_overlaps.new_ones(len(gt_labels)), self.max_overlaps])
        self.labels = torch.cat([gt_labels, self.labels])

    def __repr__(self) -> str:
        parts = [f"num_gts={self.num_gts!r}"]
        for name in ("gt_inds", "max_overlaps", "labels"):
            value = getattr(self, name)
            parts.append(f"{name}={value!r}" if value is None else f"{name}.shape={tuple(value.shape)!r}")
        return f"<AssignResult({', '.join(parts)})>"


def labels_of_assigned(gt_inds: Tensor, gt_labels: Tensor) -> Tensor:
    """(N,) class of each prediction's assigned gt (``gt_inds`` > 0), -1 elsewhere."""
    labels = gt_inds.new_full(gt_inds.shape, -1)
    positive = gt_inds > 0
    labels[positive] = gt_labels[gt_inds[positive] - 1].to(labels.dtype)
    return labels


def empty_assignment(num_gts: int, num_preds: int, like: Tensor,
                     max_overlaps: Tensor | None = None) -> AssignResult:
    """The result when there are no ground truths (everything negative) or no predictions.

    ``max_overlaps`` defaults to zeros.
    """
    if max_overlaps is None:
        max_overlaps = like.new_zeros((num_preds,))
    return AssignResult(num_gts, like.new_zeros((num_preds,), dtype=torch.long), max_overlaps,
                        like.new_full((num_preds,), -1, dtype=torch.long))
