"""Generalized Focal Loss (Li et al., 2020): Quality Focal Loss for joint class-quality
scores and Distribution Focal Loss for box edges predicted as discrete distributions (GFL)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .utils import resolve_reduction, weighted_loss


def _quality_focal_elementwise(pred: Tensor, prob: Tensor, label: Tensor, score: Tensor,
                               beta: float, bce) -> Tensor:
    """Per-sample QFL summed over classes.

    Every class is pushed towards 0 with weight prob ** beta; the labelled class of a positive
    sample towards its quality ``score`` with weight |score - prob| ** beta.
    """
    loss = bce(pred, torch.zeros_like(pred), reduction="none") * prob.pow(beta)
    num_classes = pred.size(1)
    pos = ((label >= 0) & (label < num_classes)).nonzero().squeeze(1)
    pos_label = label[pos].long()
    pos_pred, pos_prob, pos_score = pred[pos, pos_label], prob[pos, pos_label], score[pos]
    loss[pos, pos_label] = (bce(pos_pred, pos_score, reduction="none")
                            * (pos_score - pos_prob).abs().pow(beta))
    return loss.sum(dim=1)


def _split_qfl_target(target) -> tuple[Tensor, Tensor]:
    if not isinstance(target, (tuple, list)) or len(target) != 2:
        raise ValueError("the target of QualityFocalLoss must be a tensor or a pair "
                         "(category labels, quality scores)")
    return target[0], target[1]


@weighted_loss
def quality_focal_loss(pred: Tensor, target: tuple[Tensor, Tensor], beta: float = 2.0) -> Tensor:
    """QFL of (N, C) logits; ``target`` = ((N,) labels with C = background, (N,) quality
    scores). Returns (N,)."""
    label, score = _split_qfl_target(target)
    return _quality_focal_elementwise(pred, pred.sigmoid(), label, score, beta,
                                      F.binary_cross_entropy_with_logits)


@weighted_loss
def quality_focal_loss_with_prob(pred: Tensor, target: tuple[Tensor, Tensor],
                                 beta: float = 2.0) -> Tensor:
    """QFL of (N, C) probabilities (already through a sigmoid); see :func:`quality_focal_loss`."""
    label, score = _split_qfl_target(target)
    return _quality_focal_elementwise(pred, pred, label, score, beta, F.binary_cross_entropy)


@weighted_loss
def quality_focal_loss_tensor_target(pred: Tensor, target: Tensor, beta: float = 2.0,
                                     activated: bool = False) -> Tensor:
    """QFL against a dense (N, C) quality target (0 where a class is absent). Returns (N,)."""
    if pred.shape != target.shape:
        raise ValueError(f"quality_focal_loss_tensor_target needs pred and target of the same "
                         f"shape, but got {tuple(pred.shape)} and {tuple(target.shape)}")
    prob = pred if activated else pred.sigmoid()
    bce = F.binary_cross_entropy if activated else F.binary_cross_entropy_with_logits
    target = target.type_as(pred)
    loss = bce(pred, torch.zeros_like(pred), reduction="none") * prob.pow(beta)
    pos = target != 0
    loss[pos] = bce(pred[pos], target[pos], reduction="none") * (target[pos] - prob[pos]).abs().pow(beta)
    return loss.sum(dim=1)


@weighted_loss
def distribution_focal_loss(pred: Tensor, label: Tensor) -> Tensor:
    """DFL of (N, n + 1) logits over the integer positions 0..n against (N,) continuous
    targets in [0, n): cross-entropy towards the two neighbouring integers, each weighted by
    its nearness. Returns (N,)."""
    left = label.long()
    right = left + 1
    weight_left = right.float() - label
    weight_right = label - left.float()
    return (F.cross_entropy(pred, left, reduction="none") * weight_left
            + F.cross_entropy(pred, right, reduction="none") * weight_right)


class QualityFocalLoss(nn.Module):
    """Quality Focal Loss. ``target`` is (labels, scores) or a dense (N, C) quality tensor.

    Args:
        beta: exponent of the modulating factor |score - prob|.
        activated: ``pred`` holds probabilities rather than logits.
    """

    def __init__(self, use_sigmoid: bool = True, beta: float = 2.0, reduction: str = "mean",
                 loss_weight: float = 1.0, activated: bool = False):
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError("QualityFocalLoss only supports use_sigmoid=True")
        self.use_sigmoid = use_sigmoid
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

    def forward(self, pred: Tensor, target: Tensor | tuple[Tensor, Tensor],
                weight: Tensor | None = None, avg_factor: float | None = None,
                reduction_override: str | None = None) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        kwargs = dict(beta=self.beta, reduction=reduction, avg_factor=avg_factor)
        if isinstance(target, Tensor):
            loss = quality_focal_loss_tensor_target(pred, target, weight,
                                                    activated=self.activated, **kwargs)
        elif self.activated:
            loss = quality_focal_loss_with_prob(pred, target, weight, **kwargs)
        else:
            loss = quality_focal_loss(pred, target, weight, **kwargs)
        return self.loss_weight * loss


class DistributionFocalLoss(nn.Module):
    """Distribution Focal Loss: ``pred`` (N, n + 1) logits, ``target`` (N,) in [0, n)."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        return self.loss_weight * distribution_focal_loss(pred, target, weight,
                                                          reduction=reduction,
                                                          avg_factor=avg_factor)
