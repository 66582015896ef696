"""Sigmoid focal loss (Lin et al., 2017) with MMCV's conventions and fused kernels.

``target`` holds class indices (N,), with ``num_classes`` (= C) meaning background: a
background sample pushes all its C logits towards 0. The compiled forward computes every
logit's loss in one pass and the backward its gradient in another (nothing but the inputs
is kept for the backward). float16/bfloat16 logits are computed in float32 and the loss
cast back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from detops import _backend
from detops._validation import (
    check_choice,
    check_same_device,
    check_same_length,
    check_tensor,
    compute_dtype,
)

_REDUCTIONS = ("none", "mean", "sum")


def sigmoid_focal_loss(input: Tensor, target: Tensor, gamma: float = 2.0, alpha: float = 0.25,
                       weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """Sigmoid focal loss of logits ``input`` (N, C) against class indices ``target`` (N,).

    Args:
        input: (N, C) logits.
        target: (N,) int64 class indices in 0..C, C meaning background.
        gamma: focusing exponent; 0 gives alpha-weighted binary cross-entropy.
        alpha: weight of the target class's term; 1 - alpha weighs the others.
        weight: (C,) per-class weights: every logit of a sample of class k is scaled by
            weight[k] (background samples are not scaled). Not differentiated.
        reduction: 'none' -> (N, C); 'sum'; 'mean' -> sum / N (MMCV divides by the number of
            samples, not of logits).
    """
    check_tensor("input", input, shape=(None, None), floating=True)
    check_tensor("target", target, shape=(None,), integer=True)
    check_same_length(input=input, target=target)
    check_same_device(input=input, target=target, weight=weight)
    check_choice("reduction", reduction, _REDUCTIONS)
    num_classes = input.shape[1]
    if weight is not None:
        check_tensor("weight", weight, shape=(num_classes,), floating=True)
    if target.numel() and not torch.compiler.is_compiling():
        low, high = int(target.min()), int(target.max())
        if low < 0 or high > num_classes:
            raise ValueError(f"target values must be class indices in 0..{num_classes} "
                             f"({num_classes} = background), got values in {low}..{high}")
    dtype = input.dtype
    logits = input.to(compute_dtype(dtype)).contiguous()
    target = target.to(torch.int64).contiguous()
    if weight is not None:
        weight = weight.to(logits.dtype).contiguous()
    if _backend.use_kernel("sigmoid_focal_loss_forward", logits, target):
        loss = torch.ops.detops.sigmoid_focal_loss_forward(logits, target, weight, float(gamma),
                                                           float(alpha))
    else:
        loss = _sigmoid_focal_loss_torch(logits, target, weight, float(gamma), float(alpha))
    if reduction == "mean":
        loss = loss.sum() / max(input.shape[0], 1)
    elif reduction == "sum":
        loss = loss.sum()
    return loss.to(dtype)


def _sigmoid_focal_loss_torch(logits: Tensor, target: Tensor, weight: Tensor | None,
                              gamma: float, alpha: float) -> Tensor:
    """Unreduced (N, C) loss with tensor operations (log-sigmoid form)."""
    num_classes = logits.shape[1]
    is_target = F.one_hot(target, num_classes + 1)[:, :num_classes].bool()
    p = logits.sigmoid()
    positive = -alpha * (1 - p).pow(gamma) * F.logsigmoid(logits)
    negative = -(1 - alpha) * p.pow(gamma) * F.logsigmoid(-logits)
    loss = torch.where(is_target, positive, negative)
    if weight is not None:
        row_weight = torch.cat([weight, weight.new_ones(1)])[target]
        loss = loss * row_weight[:, None]
    return loss


def _setup_context(ctx, inputs, output):
    logits, target, weight, gamma, alpha = inputs
    ctx.save_for_backward(logits, target, weight)
    ctx.constants = (gamma, alpha)


def _backward(ctx, grad_loss):
    logits, target, weight = ctx.saved_tensors
    grad = torch.ops.detops.sigmoid_focal_loss_backward(grad_loss.contiguous(), logits, target,
                                                        weight, *ctx.constants)
    return grad, None, None, None, None


if _backend.has_op("sigmoid_focal_loss_forward"):
    @torch.library.register_fake("detops::sigmoid_focal_loss_forward")
    def _(logits, target, weight, gamma, alpha):
        return torch.empty_like(logits)

    @torch.library.register_fake("detops::sigmoid_focal_loss_backward")
    def _(grad_loss, logits, target, weight, gamma, alpha):
        return torch.empty_like(logits)

    torch.library.register_autograd("detops::sigmoid_focal_loss_forward", _backward,
                                    setup_context=_setup_context)
