"""L1 and smooth L1 (Huber) regression losses."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .utils import has_no_positive_weight, resolve_reduction, weighted_loss, zero_weight_loss


def _check_same_shape(pred: Tensor, target: Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name} needs pred and target of the same shape, but got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")


@weighted_loss
def smooth_l1_loss(pred: Tensor, target: Tensor, beta: float = 1.0) -> Tensor:
    """0.5 * d ** 2 / beta where d = |pred - target| < beta, else d - 0.5 * beta."""
    if beta <= 0:
        raise ValueError(f"smooth_l1_loss: beta must be > 0, but got {beta}")
    if target.numel() == 0:
        return pred.sum() * 0
    _check_same_shape(pred, target, "smooth_l1_loss")
    diff = torch.abs(pred - target)
    return torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)


@weighted_loss
def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """|pred - target| element-wise."""
    if target.numel() == 0:
        return pred.sum() * 0
    _check_same_shape(pred, target, "l1_loss")
    return torch.abs(pred - target)


class SmoothL1Loss(nn.Module):
    """Smooth L1 loss with threshold ``beta``."""

    def __init__(self, beta: float = 1.0, reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs) -> Tensor:
        if has_no_positive_weight(weight):
            return zero_weight_loss(pred, weight)
        reduction = resolve_reduction(self.reduction, reduction_override)
        return self.loss_weight * smooth_l1_loss(pred, target, weight, beta=self.beta,
                                                 reduction=reduction, avg_factor=avg_factor,
                                                 **kwargs)


class L1Loss(nn.Module):
    """L1 loss."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        if has_no_positive_weight(weight):
            return zero_weight_loss(pred, weight)
        reduction = resolve_reduction(self.reduction, reduction_override)
        return self.loss_weight * l1_loss(pred, target, weight, reduction=reduction,
                                          avg_factor=avg_factor)
