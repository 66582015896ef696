"""IoU-based box regression losses between aligned (N, 4) xyxy predictions and targets.

IoU (UnitBox), GIoU (Rezatofighi et al., 2019), DIoU and CIoU (Zheng et al., 2020), EIoU
(MMDetection's smoothed extended-IoU variant) and SIoU (Gevorgyan, 2022). Each returns 1 minus
its overlap measure per box pair; the modules add MMDetection's weight conventions.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn

from detcore.structures import bbox_overlaps

from .utils import has_no_positive_weight, resolve_reduction, weighted_loss, zero_weight_loss

IOU_LOSS_MODES = ("linear", "square", "log")


def _overlaps_in_float32(pred: Tensor, target: Tensor, mode: str, eps: float) -> Tensor:
    """Aligned overlaps; float16 predictions are computed in float32 and cast back."""
    if pred.dtype != torch.float16:
        return bbox_overlaps(pred, target, mode=mode, is_aligned=True, eps=eps)
    overlaps = bbox_overlaps(pred.float(), target, mode=mode, is_aligned=True, eps=eps)
    return overlaps.half()


def _iou_and_enclosure(pred: Tensor, target: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """IoU (N,) with ``eps`` added to the union, and the (N, 2) unclamped size of the
    smallest box enclosing both."""
    inter_wh = (torch.min(pred[:, 2:], target[:, 2:]) - torch.max(pred[:, :2], target[:, :2]))
    inter_wh = inter_wh.clamp(min=0)
    overlap = inter_wh[:, 0] * inter_wh[:, 1]
    area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_target = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    ious = overlap / (area_pred + area_target - overlap + eps)
    enclose_wh = torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])
    return ious, enclose_wh


def _center_offset(pred: Tensor, target: Tensor) -> Tensor:
    """(N, 2) offset from the centre of ``pred`` to the centre of ``target``."""
    return ((target[:, :2] + target[:, 2:]) - (pred[:, :2] + pred[:, 2:])) * 0.5


def _widths_heights(boxes: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Widths and heights, ``eps`` added to the heights (they divide)."""
    return boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1] + eps


@weighted_loss
def iou_loss(pred: Tensor, target: Tensor, linear: bool = False, mode: str = "log",
             eps: float = 1e-6) -> Tensor:
    """1 - IoU (``'linear'``), 1 - IoU ** 2 (``'square'``) or -log(IoU) (``'log'``), with the
    IoU clamped to at least ``eps``. ``linear=True`` is the deprecated spelling of
    ``mode='linear'``."""
    if mode not in IOU_LOSS_MODES:
        raise ValueError(f"iou_loss: mode must be one of {IOU_LOSS_MODES}, but got {mode!r}")
    if linear:
        mode = "linear"
        warnings.warn("iou_loss: linear=True is deprecated, use mode='linear'", stacklevel=3)
    ious = _overlaps_in_float32(pred, target, "iou", 1e-6).clamp(min=eps)
    if mode == "linear":
        return 1 - ious
    if mode == "square":
        return 1 - ious**2
    return -ious.log()


@weighted_loss
def giou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """1 - generalized IoU."""
    return 1 - _overlaps_in_float32(pred, target, "giou", eps)


@weighted_loss
def diou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """1 - (IoU - squared centre distance / squared diagonal of the enclosing box)."""
    ious, enclose_wh = _iou_and_enclosure(pred, target, eps)
    diagonal2 = enclose_wh.clamp(min=0).pow(2).sum(dim=1) + eps
    center_distance2 = _center_offset(pred, target).pow(2).sum(dim=1)
    return 1 - (ious - center_distance2 / diagonal2)


@weighted_loss
def ciou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """1 - complete IoU: DIoU's distance penalty plus an aspect-ratio consistency term, whose
    trade-off factor is held constant (no gradient) and applied only where IoU > 0.5."""
    ious, enclose_wh = _iou_and_enclosure(pred, target, eps)
    diagonal2 = enclose_wh.clamp(min=0).pow(2).sum(dim=1) + eps
    center_distance2 = _center_offset(pred, target).pow(2).sum(dim=1)
    w_pred, h_pred = _widths_heights(pred, eps)
    w_target, h_target = _widths_heights(target, eps)
    v = (4 / math.pi**2) * torch.pow(torch.atan(w_target / h_target) - torch.atan(w_pred / h_pred), 2)
    with torch.no_grad():
        alpha = (ious > 0.5).float() * v / (1 - ious + v)
    cious = ious - (center_distance2 / diagonal2 + alpha * v)
    return 1 - cious.clamp(min=-1.0, max=1.0)


@weighted_loss
def eiou_loss(pred: Tensor, target: Tensor, smooth_point: float = 0.1, eps: float = 1e-7) -> Tensor:
    """Smoothed extended-IoU loss: the "intersection" extends continuously to negative values
    for disjoint boxes, and u = 1 - IoU is made smooth-L1-like: 0.5 u ** 2 / s below
    ``smooth_point`` s, u - 0.5 s above."""
    # intersection corners, and the enclosing box's top-left corner as the origin
    origin = torch.min(pred[:, :2], target[:, :2])
    inter_lt = torch.max(pred[:, :2], target[:, :2]) - origin
    inter_rb = torch.min(pred[:, 2:], target[:, 2:]) - origin
    low = torch.min(inter_lt, inter_rb)
    high = torch.max(inter_lt, inter_rb)
    intersection = (inter_rb[:, 0] * inter_rb[:, 1] + low[:, 0] * low[:, 1]
                    - inter_lt[:, 0] * high[:, 1] - high[:, 0] * inter_lt[:, 1])
    area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_target = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = area_pred + area_target - intersection + eps
    one_minus_iou = 1 - intersection / union
    smooth = (one_minus_iou < smooth_point).detach().float()
    return (0.5 * smooth * one_minus_iou**2 / smooth_point
            + (1 - smooth) * (one_minus_iou - 0.5 * smooth_point))


@weighted_loss
def siou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7, neg_gamma: bool = False) -> Tensor:
    """1 - SIoU: IoU minus half of (angle-aware distance cost + shape cost)."""
    ious, enclose_wh = _iou_and_enclosure(pred, target, eps)
    enclose_wh = enclose_wh.clamp(min=eps)
    w_pred, h_pred = _widths_heights(pred, eps)
    w_target, h_target = _widths_heights(target, eps)
    offset = _center_offset(pred, target) + eps  # (N, 2): x, y
    sigma = offset.pow(2).sum(dim=1).sqrt()
    sin_x, sin_y = offset[:, 0].abs() / sigma, offset[:, 1].abs() / sigma
    # the angle to the nearer axis: sin of at most 45 degrees
    sin_alpha = torch.where(sin_x > math.sqrt(2) / 2, sin_y, sin_x)
    angle_cost = torch.cos(torch.asin(sin_alpha) * 2 - math.pi / 2)
    rho = (offset / enclose_wh).pow(2)
    gamma = angle_cost - 2 if neg_gamma else 2 - angle_cost
    distance_cost = 2 - torch.exp(gamma * rho[:, 0]) - torch.exp(gamma * rho[:, 1])
    omega_w = torch.abs(w_pred - w_target) / torch.max(w_pred, w_target)
    omega_h = torch.abs(h_pred - h_target) / torch.max(h_pred, h_target)
    shape_cost = torch.pow(1 - torch.exp(-omega_w), 4) + torch.pow(1 - torch.exp(-omega_h), 4)
    sious = ious - 0.5 * (distance_cost + shape_cost)
    return 1 - sious.clamp(min=-1.0, max=1.0)


class _IoUFamilyLoss(nn.Module):
    """Shared forward of the IoU losses.

    All-zero weights give a zero loss still connected to ``pred``; (N, 4) weights are
    averaged to one weight per box.
    """

    #: whether the all-zero-weight shortcut also applies to reduction 'none'
    shortcut_unreduced = True

    def __init__(self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0):
        super().__init__()
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def loss_func(self, pred: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                  avg_factor: float | None, **kwargs) -> Tensor:
        raise NotImplementedError

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs) -> Tensor:
        """``pred``, ``target`` (N, 4) xyxy; ``weight`` (N,) or (N, 4)."""
        reduction = resolve_reduction(self.reduction, reduction_override)
        if has_no_positive_weight(weight) and (self.shortcut_unreduced or reduction != "none"):
            return zero_weight_loss(pred, weight)
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise ValueError(f"{type(self).__name__}: a 2-D weight must have the shape of "
                                 f"pred {tuple(pred.shape)}, but got {tuple(weight.shape)}")
            weight = weight.mean(-1)
        return self.loss_weight * self.loss_func(pred, target, weight, reduction=reduction,
                                                 avg_factor=avg_factor, **kwargs)


class IoULoss(_IoUFamilyLoss):
    """IoU loss; ``mode`` is ``'log'`` (-log IoU, UnitBox), ``'linear'`` or ``'square'``."""

    shortcut_unreduced = False

    def __init__(self, linear: bool = False, eps: float = 1e-6, reduction: str = "mean",
                 loss_weight: float = 1.0, mode: str = "log"):
        super().__init__(eps, reduction, loss_weight)
        if mode not in IOU_LOSS_MODES:
            raise ValueError(f"IoULoss: mode must be one of {IOU_LOSS_MODES}, but got {mode!r}")
        if linear:
            mode = "linear"
            warnings.warn("IoULoss: linear=True is deprecated, use mode='linear'", stacklevel=2)
        self.mode = mode
        self.linear = linear

    def loss_func(self, pred, target, weight, **kwargs):
        return iou_loss(pred, target, weight, mode=self.mode, eps=self.eps, **kwargs)


class GIoULoss(_IoUFamilyLoss):
    """Generalized IoU loss."""

    def loss_func(self, pred, target, weight, **kwargs):
        return giou_loss(pred, target, weight, eps=self.eps, **kwargs)


class DIoULoss(_IoUFamilyLoss):
    """Distance IoU loss."""

    def loss_func(self, pred, target, weight, **kwargs):
        return diou_loss(pred, target, weight, eps=self.eps, **kwargs)


class CIoULoss(_IoUFamilyLoss):
    """Complete IoU loss."""

    def loss_func(self, pred, target, weight, **kwargs):
        return ciou_loss(pred, target, weight, eps=self.eps, **kwargs)


class EIoULoss(_IoUFamilyLoss):
    """Smoothed extended IoU loss with threshold ``smooth_point``."""

    def __init__(self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0,
                 smooth_point: float = 0.1):
        super().__init__(eps, reduction, loss_weight)
        self.smooth_point = smooth_point

    def loss_func(self, pred, target, weight, **kwargs):
        return eiou_loss(pred, target, weight, smooth_point=self.smooth_point, eps=self.eps,
                         **kwargs)


class SIoULoss(_IoUFamilyLoss):
    """SCYLLA-IoU loss; ``neg_gamma`` uses angle_cost - 2 as the distance exponent."""

    def __init__(self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0,
                 neg_gamma: bool = False):
        super().__init__(eps, reduction, loss_weight)
        self.neg_gamma = neg_gamma

    def loss_func(self, pred, target, weight, **kwargs):
        return siou_loss(pred, target, weight, eps=self.eps, neg_gamma=self.neg_gamma, **kwargs)
