"""Cross-entropy in its three detection forms: softmax over classes, per-class sigmoid, and
per-RoI mask logits (Mask R-CNN), with MMDetection's ``ignore_index`` / ``avg_non_ignore``."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .utils import resolve_reduction, weight_reduce_loss

DEFAULT_IGNORE_INDEX = -100  # torch's default


def cross_entropy(pred: Tensor, label: Tensor, weight: Tensor | None = None,
                  reduction: str = "mean", avg_factor: float | None = None,
                  class_weight: Tensor | None = None, ignore_index: int | None = -100,
                  avg_non_ignore: bool = False) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against (N,) class indices.

    ``weight`` is per sample; ``class_weight`` (C,) per class. With ``avg_non_ignore`` the
    mean divides by the number of labels that are not ``ignore_index`` (as PyTorch does).
    """
    ignore_index = DEFAULT_IGNORE_INDEX if ignore_index is None else ignore_index
    loss = F.cross_entropy(pred, label, weight=class_weight, reduction="none",
                           ignore_index=ignore_index)
    if avg_factor is None and avg_non_ignore and reduction == "mean":
        avg_factor = label.numel() - (label == ignore_index).sum().item()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def _expand_onehot_labels(labels: Tensor, label_weights: Tensor | None, label_channels: int,
                          ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """(N,) class indices -> (N, C) one-hot targets, (N, C) weights and (N, C) valid mask.

    Labels equal to C (background) give an all-zero row; negative and ignored labels give a
    zero-weight row.
    """
    valid = (labels >= 0) & (labels != ignore_index)
    is_object = valid & (labels < label_channels)
    onehot_index = torch.where(is_object, labels, label_channels)
    bin_labels = F.one_hot(onehot_index, label_channels + 1)[:, :label_channels].to(labels.dtype)
    valid_mask = valid[:, None].expand(-1, label_channels).float()
    if label_weights is None:
        bin_label_weights = valid_mask
    else:
        bin_label_weights = label_weights.view(-1, 1).repeat(1, label_channels) * valid_mask
    return bin_labels, bin_label_weights, valid_mask


def binary_cross_entropy(pred: Tensor, label: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean", avg_factor: float | None = None,
                         class_weight: Tensor | None = None, ignore_index: int | None = -100,
                         avg_non_ignore: bool = False) -> Tensor:
    """Sigmoid cross-entropy of logits against labels.

    ``pred`` (N, C) with ``label`` (N,) class indices (C = background) is expanded to one-hot
    targets; ``pred`` and ``label`` of the same shape are used as they are (soft targets
    allowed). ``class_weight`` is passed to PyTorch as ``pos_weight``, as MMDetection does.
    """
    ignore_index = DEFAULT_IGNORE_INDEX if ignore_index is None else ignore_index
    if pred.dim() != label.dim():
        label, weight, valid_mask = _expand_onehot_labels(label, weight, pred.size(-1),
                                                          ignore_index)
    else:
        valid_mask = ((label >= 0) & (label != ignore_index)).float()
        weight = valid_mask if weight is None else weight * valid_mask
    if avg_factor is None and avg_non_ignore and reduction == "mean":
        avg_factor = valid_mask.sum().item()
    loss = F.binary_cross_entropy_with_logits(pred, label.float(), pos_weight=class_weight,
                                              reduction="none")
    return weight_reduce_loss(loss, weight.float(), reduction=reduction, avg_factor=avg_factor)


def mask_cross_entropy(pred: Tensor, target: Tensor, label: Tensor, reduction: str = "mean",
                       avg_factor: float | None = None, class_weight: Tensor | None = None,
                       ignore_index: int | None = None, **kwargs) -> Tensor:
    """Sigmoid cross-entropy of each RoI's mask logits for its own class.

    Args:
        pred: (N, C, H, W) mask logits (C = 1 for class-agnostic masks).
        target: (N, H, W) mask targets in [0, 1].
        label: (N,) class of each RoI, selecting its channel of ``pred``.

    Returns:
        (1,) mean over all pixels of all RoIs (the only reduction supported).
    """
    if ignore_index is not None:
        raise ValueError("mask_cross_entropy does not support ignore_index")
    if reduction != "mean" or avg_factor is not None:
        raise ValueError(f"mask_cross_entropy only supports reduction='mean' without avg_factor, "
                         f"but got reduction={reduction!r}, avg_factor={avg_factor!r}")
    rois = torch.arange(pred.size(0), device=pred.device)
    pred_slice = pred[rois, label].squeeze(1)
    return F.binary_cross_entropy_with_logits(pred_slice, target, weight=class_weight,
                                              reduction="mean")[None]


class CrossEntropyLoss(nn.Module):
    """Cross-entropy loss: softmax (default), sigmoid (``use_sigmoid``) or mask (``use_mask``).

    Args:
        class_weight: per-class weights (list of C floats).
        ignore_index: label to ignore; a call's ``ignore_index`` overrides it.
        avg_non_ignore: average over the non-ignored labels only (PyTorch's behaviour)
            instead of over all labels (MMDetection's default).
    """

    def __init__(self, use_sigmoid: bool = False, use_mask: bool = False, reduction: str = "mean",
                 class_weight: list[float] | None = None, ignore_index: int | None = None,
                 loss_weight: float = 1.0, avg_non_ignore: bool = False):
        super().__init__()
        if use_sigmoid and use_mask:
            raise ValueError("CrossEntropyLoss: use_sigmoid and use_mask cannot both be True")
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        if ignore_index is not None and not avg_non_ignore and reduction == "mean":
            warnings.warn("CrossEntropyLoss: with ignore_index set and avg_non_ignore=False the "
                          "mean is taken over all labels, ignored ones included; set "
                          "avg_non_ignore=True to average over the others only (as PyTorch's "
                          "cross_entropy does)", stacklevel=2)
        if use_sigmoid:
            self.cls_criterion = binary_cross_entropy
        elif use_mask:
            self.cls_criterion = mask_cross_entropy
        else:
            self.cls_criterion = cross_entropy

    def extra_repr(self) -> str:
        return f"avg_non_ignore={self.avg_non_ignore}"

    def forward(self, cls_score: Tensor, label: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                ignore_index: int | None = None, **kwargs) -> Tensor:
        reduction = resolve_reduction(self.reduction, reduction_override)
        if ignore_index is None:
            ignore_index = self.ignore_index
        class_weight = None
        if self.class_weight is not None:
            class_weight = cls_score.new_tensor(self.class_weight)
        return self.loss_weight * self.cls_criterion(
            cls_score, label, weight, class_weight=class_weight, reduction=reduction,
            avg_factor=avg_factor, ignore_index=ignore_index, avg_non_ignore=self.avg_non_ignore,
            **kwargs)
