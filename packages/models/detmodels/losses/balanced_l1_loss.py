"""Balanced L1 loss (Libra R-CNN, Pang et al., 2019): promotes the gradient of inliers
(small errors) relative to outliers."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .utils import resolve_reduction, weighted_loss


@weighted_loss
def balanced_l1_loss(pred: Tensor, target: Tensor, beta: float = 1.0, alpha: float = 0.5,
                     gamma: float = 1.5) -> Tensor:
    """Element-wise balanced L1 of d = |pred - target|, with b = e ** (gamma / alpha) - 1:
    alpha / b * (b * d + 1) * log(b * d / beta + 1) - alpha * d  where d < beta,
    gamma * d + gamma / b - alpha * beta  elsewhere."""
    if beta <= 0:
        raise ValueError(f"balanced_l1_loss: beta must be > 0, but got {beta}")
    if target.numel() == 0:
        return pred.sum() * 0
    if pred.shape != target.shape:
        raise ValueError(f"balanced_l1_loss needs pred and target of the same shape, but got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    diff = torch.abs(pred - target)
    b = math.e ** (gamma / alpha) - 1
    return torch.where(diff < beta,
                       alpha / b * (b * diff + 1) * torch.log(b * diff / beta + 1) - alpha * diff,
                       gamma * diff + gamma / b - alpha * beta)


class BalancedL1Loss(nn.Module):
    """Balanced L1 loss module; see :func:`balanced_l1_loss`."""

    def __init__(self, alpha: float = 0.5, gamma: float = 1.5, beta: float = 1.0,
                 reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        return self.loss_weight * balanced_l1_loss(
            pred, target, weight, alpha=self.alpha, gamma=self.gamma, beta=self.beta,
            reduction=reduction, avg_factor=avg_factor, **kwargs)
