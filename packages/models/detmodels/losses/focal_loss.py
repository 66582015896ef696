"""Sigmoid focal loss (Lin et al., 2017) for dense detectors such as RetinaNet.

``FocalLoss`` takes class-index targets (N,) with C meaning background, one-hot (N, C)
targets, or probabilities instead of logits (``activated``). Class-index targets go through
detops' fused kernel (one pass forward, one backward) when detops is importable and through
the PyTorch formula otherwise; both give the same numbers.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .utils import match_weight_to_loss, resolve_reduction, weight_reduce_loss

try:
    from detops import sigmoid_focal_loss as _fused_sigmoid_focal_loss
except ImportError:  # detops is a dependency, but the loss must not need its compiled part
    _fused_sigmoid_focal_loss = None


def _focal_weight(prob: Tensor, target: Tensor, gamma: float, alpha: float) -> Tensor:
    """alpha_t * (1 - p_t) ** gamma for probabilities ``prob`` and (soft) binary ``target``."""
    one_minus_pt = (1 - prob) * target + prob * (1 - target)
    return (alpha * target + (1 - alpha) * (1 - target)) * one_minus_pt.pow(gamma)


def py_sigmoid_focal_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None,
                          gamma: float = 2.0, alpha: float = 0.25, reduction: str = "mean",
                          avg_factor: float | None = None) -> Tensor:
    """Focal loss of (N, C) logits against (N, C) binary targets, in PyTorch operations."""
    target = target.type_as(pred)
    loss = (F.binary_cross_entropy_with_logits(pred, target, reduction="none")
            * _focal_weight(pred.sigmoid(), target, gamma, alpha))
    return weight_reduce_loss(loss, match_weight_to_loss(weight, loss), reduction, avg_factor)


def py_focal_loss_with_prob(pred: Tensor, target: Tensor, weight: Tensor | None = None,
                            gamma: float = 2.0, alpha: float = 0.25, reduction: str = "mean",
                            avg_factor: float | None = None) -> Tensor:
    """Focal loss of (N, C) probabilities (already through a sigmoid) against (N,) class
    indices (C = background) or (N, C) binary targets."""
    if pred.dim() != target.dim():
        num_classes = pred.size(1)
        target = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes]
    target = target.type_as(pred)
    loss = (F.binary_cross_entropy(pred, target, reduction="none")
            * _focal_weight(pred, target, gamma, alpha))
    return weight_reduce_loss(loss, match_weight_to_loss(weight, loss), reduction, avg_factor)


def sigmoid_focal_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None,
                       gamma: float = 2.0, alpha: float = 0.25, reduction: str = "mean",
                       avg_factor: float | None = None) -> Tensor:
    """Focal loss of (N, C) logits against (N,) class indices (C = background).

    Uses detops' fused kernel when available, else the one-hot PyTorch formula.
    """
    if _fused_sigmoid_focal_loss is None:
        num_classes = pred.size(1)
        onehot = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes]
        return py_sigmoid_focal_loss(pred, onehot, weight, gamma, alpha, reduction, avg_factor)
    loss = _fused_sigmoid_focal_loss(pred, target, gamma=gamma, alpha=alpha, weight=None,
                                     reduction="none")
    return weight_reduce_loss(loss, match_weight_to_loss(weight, loss), reduction, avg_factor)


class FocalLoss(nn.Module):
    """Sigmoid focal loss.

    Args:
        gamma: focusing exponent.
        alpha: weight of the positive term (1 - alpha for the negative one).
        activated: ``pred`` holds probabilities rather than logits.
    """

    def __init__(self, use_sigmoid: bool = True, gamma: float = 2.0, alpha: float = 0.25,
                 reduction: str = "mean", loss_weight: float = 1.0, activated: bool = False):
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError("FocalLoss only supports use_sigmoid=True")
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        """``pred`` (N, C); ``target`` (N,) class indices or (N, C) one-hot; ``weight`` per
        sample (N,) or per element (N, C)."""
        reduction = resolve_reduction(self.reduction, reduction_override)
        if self.activated:
            loss_func = py_focal_loss_with_prob
        elif pred.dim() == target.dim():
            loss_func = py_sigmoid_focal_loss
        else:
            loss_func = sigmoid_focal_loss
        return self.loss_weight * loss_func(pred, target, weight, gamma=self.gamma,
                                            alpha=self.alpha, reduction=reduction,
                                            avg_factor=avg_factor)
