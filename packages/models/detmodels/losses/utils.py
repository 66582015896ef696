"""How every loss turns element-wise values into the number it returns (MMDetection's rules).

A loss function computes an unreduced tensor; then, in this order:
  1. ``weight`` (same shape, or broadcastable) multiplies it element-wise;
  2. with ``avg_factor`` and reduction ``'mean'`` the weighted sum is divided by
     ``avg_factor`` (usually the number of positive samples) instead of the element count;
     ``'none'`` ignores ``avg_factor``; ``'sum'`` with an ``avg_factor`` is an error;
  3. without ``avg_factor``, ``'mean'`` / ``'sum'`` / ``'none'`` act as in PyTorch.
Loss modules then scale the result by ``loss_weight``; ``reduction_override`` replaces the
module's ``reduction`` for one call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

REDUCTIONS = ("none", "mean", "sum")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Reduce an element-wise loss with ``'none'``, ``'mean'`` or ``'sum'``."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, but got {reduction!r}")


def weight_reduce_loss(loss: Tensor, weight: Tensor | None = None, reduction: str = "mean",
                       avg_factor: float | Tensor | None = None) -> Tensor:
    """Multiply ``loss`` by ``weight`` element-wise, then reduce (see the module docstring)."""
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == "mean":
        # eps keeps an avg_factor of 0 (no positive sample) from dividing by zero
        return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
    if reduction == "none":
        return loss
    raise ValueError(f"avg_factor can only be used with reduction 'mean' or 'none', but got "
                     f"reduction={reduction!r}")


def weighted_loss(loss_func: Callable) -> Callable:
    """Give an element-wise ``loss_func(pred, target, **kwargs)`` the arguments
    ``weight=None, reduction='mean', avg_factor=None``.

    Example:
        >>> @weighted_loss
        ... def l1(pred, target):
        ...     return (pred - target).abs()
        >>> pred, target = torch.tensor([0., 2., 3.]), torch.tensor([1., 1., 1.])
        >>> l1(pred, target), l1(pred, target, torch.tensor([1., 0., 1.]), avg_factor=2)
        (tensor(1.3333), tensor(1.5000))
    """

    @functools.wraps(loss_func)
    def wrapper(pred: Tensor, target: Tensor, weight: Tensor | None = None,
                reduction: str = "mean", avg_factor: float | Tensor | None = None,
                **kwargs) -> Tensor:
        loss = loss_func(pred, target, **kwargs)
        return weight_reduce_loss(loss, weight, reduction, avg_factor)

    return wrapper


def resolve_reduction(default: str, override: str | None) -> str:
    """The reduction of one call: ``override`` when given, else the module's ``default``."""
    if override is not None and override not in REDUCTIONS:
        raise ValueError(f"reduction_override must be None or one of {REDUCTIONS}, but got "
                         f"{override!r}")
    return override or default


def has_no_positive_weight(weight: Tensor | None) -> bool:
    """True when a weight tensor is given and none of its entries is positive."""
    return weight is not None and not bool(torch.any(weight > 0))


def zero_weight_loss(pred: Tensor, weight: Tensor) -> Tensor:
    """A zero loss that stays connected to ``pred``: box losses return it when every weight is
    0, so that every parameter still receives a (zero) gradient in distributed training."""
    if pred.dim() == weight.dim() + 1:
        weight = weight.unsqueeze(1)
    return (pred * weight).sum()


def match_weight_to_loss(weight: Tensor | None, loss: Tensor) -> Tensor | None:
    """Shape a per-sample (N,) or flattened weight like an (N, C) element-wise ``loss``."""
    if weight is None or weight.shape == loss.shape:
        return weight
    if weight.size(0) == loss.size(0) and weight.numel() == loss.size(0):
        return weight.view(-1, 1)
    if weight.numel() != loss.numel():
        raise ValueError(f"weight of shape {tuple(weight.shape)} matches neither the samples nor "
                         f"the elements of a loss of shape {tuple(loss.shape)}")
    return weight.view(loss.size(0), -1)
