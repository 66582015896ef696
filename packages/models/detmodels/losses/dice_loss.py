"""Dice loss (V-Net, Milletari et al., 2016) for mask predictions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .utils import resolve_reduction, weight_reduce_loss


def dice_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None, eps: float = 1e-3,
              reduction: str = "mean", naive_dice: bool = False,
              avg_factor: float | None = None) -> Tensor:
    """1 - Dice coefficient per instance.

    Args:
        pred: (N, ...) mask probabilities.
        target: (N, ...) binary masks.
        weight: (N,) per-instance weights.
        naive_dice: 2|AB| / (|A| + |B|) (smoothed by eps in numerator and denominator)
            instead of V-Net's 2|AB| / (|A|^2 + |B|^2) (eps added to each square sum).
    """
    pred = pred.flatten(1)
    target = target.flatten(1).float()
    intersection = torch.sum(pred * target, 1)
    if naive_dice:
        dice = (2 * intersection + eps) / (pred.sum(1) + target.sum(1) + eps)
    else:
        dice = 2 * intersection / (((pred * pred).sum(1) + eps) + ((target * target).sum(1) + eps))
    loss = 1 - dice
    if weight is not None and (weight.dim() != 1 or len(weight) != len(pred)):
        raise ValueError(f"dice_loss: weight must have shape ({len(pred)},), but got "
                         f"{tuple(weight.shape)}")
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


class DiceLoss(nn.Module):
    """Dice loss; ``activate`` applies a sigmoid to ``pred`` first (``use_sigmoid``)."""

    def __init__(self, use_sigmoid: bool = True, activate: bool = True, reduction: str = "mean",
                 naive_dice: bool = False, loss_weight: float = 1.0, eps: float = 1e-3):
        super().__init__()
        if activate and not use_sigmoid:
            raise ValueError("DiceLoss: activate=True only supports use_sigmoid=True")
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.loss_weight = loss_weight
        self.eps = eps
        self.activate = activate

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                reduction_override: str | None = None, avg_factor: float | None = None) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        if self.activate:
            pred = pred.sigmoid()
        return self.loss_weight * dice_loss(pred, target, weight, eps=self.eps,
                                            reduction=reduction, naive_dice=self.naive_dice,
                                            avg_factor=avg_factor)
