"""Gradient Harmonizing Mechanism losses (Li et al., 2019): each element is weighted by the
inverse density of elements with a similar gradient norm, so the many easy negatives and the
few outliers stop dominating. GHMC is the classification form, GHMR the regression form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .utils import resolve_reduction, weight_reduce_loss


def _gradient_density_weights(module: nn.Module, g: Tensor, valid: Tensor,
                              total: float) -> Tensor:
    """Per-element weights total / (number of valid elements in the same g-bin), divided by
    the number of non-empty bins; 0 for invalid elements.

    With ``module.momentum`` > 0 the bin counts are exponential moving averages kept in
    ``module.acc_sum`` (updated in place for non-empty bins).
    """
    edges = module.edges
    bins = torch.bucketize(g, edges[1:-1], right=True)  # edges[i] <= g < edges[i + 1]
    in_range = valid & (g >= edges[0]) & (g < edges[-1])
    counts = torch.bincount(bins[in_range], minlength=module.bins).to(g.dtype)
    non_empty = counts > 0
    if module.momentum > 0:
        acc = module.acc_sum
        acc[non_empty] = module.momentum * acc[non_empty] + (1 - module.momentum) * counts[non_empty]
        counts = acc
    per_bin = torch.where(non_empty, total / counts.clamp(min=torch.finfo(g.dtype).tiny),
                          torch.zeros_like(counts))
    weights = torch.where(in_range, per_bin[bins], torch.zeros_like(g))
    num_non_empty = int(non_empty.sum())
    return weights / num_non_empty if num_non_empty > 0 else weights


def _expand_onehot_labels(labels: Tensor, label_weights: Tensor,
                          label_channels: int) -> tuple[Tensor, Tensor]:
    """(N,) class indices (C = background) -> (N, C) one-hot targets and expanded weights."""
    is_object = (labels >= 0) & (labels < label_channels)
    onehot_index = torch.where(is_object, labels, label_channels)
    bin_labels = F.one_hot(onehot_index, label_channels + 1)[:, :label_channels]
    return bin_labels, label_weights.view(-1, 1).expand(-1, label_channels)


class GHMC(nn.Module):
    """GHM classification loss on sigmoid outputs.

    Args:
        bins: number of gradient-norm bins over [0, 1].
        momentum: moving-average factor of the bin counts (0: counts of this batch only).
    """

    def __init__(self, bins: int = 10, momentum: float = 0, use_sigmoid: bool = True,
                 loss_weight: float = 1.0, reduction: str = "mean"):
        super().__init__()
        if not use_sigmoid:
            raise ValueError("GHMC only supports use_sigmoid=True")
        self.bins = bins
        self.momentum = momentum
        edges = torch.arange(bins + 1).float() / bins
        edges[-1] += 1e-6
        self.register_buffer("edges", edges)
        if momentum > 0:
            self.register_buffer("acc_sum", torch.zeros(bins))
        self.use_sigmoid = use_sigmoid
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Tensor, label_weight: Tensor,
                reduction_override: str | None = None, **kwargs) -> Tensor:
        """``pred`` (N, C) logits; ``target`` (N,) class indices or (N, C) binary targets;
        ``label_weight`` (N,) or (N, C): elements with weight 0 are left out."""
        reduction = resolve_reduction(self.reduction, reduction_override)
        if pred.dim() != target.dim():
            target, label_weight = _expand_onehot_labels(target, label_weight, pred.size(-1))
        target, label_weight = target.float(), label_weight.float()
        g = torch.abs(pred.sigmoid().detach() - target)
        valid = label_weight > 0
        total = max(valid.float().sum().item(), 1.0)
        weights = _gradient_density_weights(self, g, valid, total)
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        return weight_reduce_loss(loss, weights, reduction=reduction, avg_factor=total) * self.loss_weight


class GHMR(nn.Module):
    """GHM regression loss on the authentic smooth L1 sqrt(d ** 2 + mu ** 2) - mu.

    Args:
        mu: smoothness of the loss near 0.
        bins, momentum: as in :class:`GHMC`.
    """

    def __init__(self, mu: float = 0.02, bins: int = 10, momentum: float = 0,
                 loss_weight: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.mu = mu
        self.bins = bins
        edges = torch.arange(bins + 1).float() / bins
        edges[-1] = 1e3
        self.register_buffer("edges", edges)
        self.momentum = momentum
        if momentum > 0:
            self.register_buffer("acc_sum", torch.zeros(bins))
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Tensor, label_weight: Tensor,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        """``pred``, ``target``, ``label_weight`` (N, 4). The average is always over the sum of
        ``label_weight``; ``avg_factor`` is accepted for interface compatibility only."""
        reduction = resolve_reduction(self.reduction, reduction_override)
        diff = pred - target
        loss = torch.sqrt(diff * diff + self.mu**2) - self.mu
        g = torch.abs(diff / torch.sqrt(self.mu**2 + diff * diff)).detach()
        valid = label_weight > 0
        total = max(label_weight.float().sum().item(), 1.0)
        weights = _gradient_density_weights(self, g, valid, total)
        return weight_reduce_loss(loss, weights, reduction=reduction, avg_factor=total) * self.loss_weight
