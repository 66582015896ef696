"""Varifocal Loss (Zhang et al., VarifocalNet 2021): an IoU-aware classification loss that
down-weights negatives only, and weights positives by their target quality."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .utils import resolve_reduction, weight_reduce_loss


def varifocal_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None,
                   alpha: float = 0.75, gamma: float = 2.0, iou_weighted: bool = True,
                   reduction: str = "mean", avg_factor: float | None = None) -> Tensor:
    """Varifocal loss of (N, C) logits against (N, C) quality targets (IoU for the true class,
    0 elsewhere).

    Positives (target > 0) are weighted by the target itself (``iou_weighted``) or by 1;
    negatives by alpha * |p - target| ** gamma.
    """
    if pred.shape != target.shape:
        raise ValueError(f"varifocal_loss needs pred and target of the same shape, but got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    prob = pred.sigmoid()
    target = target.type_as(pred)
    positive = (target > 0.0).float()
    negative_weight = alpha * (prob - target).abs().pow(gamma) * (target <= 0.0).float()
    positive_weight = target * positive if iou_weighted else positive
    loss = (F.binary_cross_entropy_with_logits(pred, target, reduction="none")
            * (positive_weight + negative_weight))
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


class VarifocalLoss(nn.Module):
    """Varifocal loss module; see :func:`varifocal_loss` for ``alpha``, ``gamma`` and
    ``iou_weighted``."""

    def __init__(self, use_sigmoid: bool = True, alpha: float = 0.75, gamma: float = 2.0,
                 iou_weighted: bool = True, reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError("VarifocalLoss only supports use_sigmoid=True")
        if alpha < 0:
            raise ValueError(f"VarifocalLoss: alpha must be >= 0, but got {alpha}")
        self.use_sigmoid = use_sigmoid
        self.alpha = alpha
        self.gamma = gamma
        self.iou_weighted = iou_weighted
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        return self.loss_weight * varifocal_loss(
            pred, target, weight, alpha=self.alpha, gamma=self.gamma,
            iou_weighted=self.iou_weighted, reduction=reduction, avg_factor=avg_factor)
