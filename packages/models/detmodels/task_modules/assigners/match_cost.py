"""Pairwise (num_preds, num_gts) matching costs for the HungarianAssigner (DETR family).

Each cost is called with ``pred_instances`` (``scores`` logits, ``bboxes`` xyxy pixels,
``masks``), ``gt_instances`` (``labels``, ``bboxes``, ``masks``) and ``img_meta`` and returns
its cost times ``weight``.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from detcore.structures import InstanceData, bbox_overlaps
from detcore.structures.bbox import bbox_xyxy_to_cxcywh


class BaseMatchCost:
    """A weighted pairwise cost."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    @abstractmethod
    def __call__(self, pred_instances: InstanceData, gt_instances: InstanceData,
                 img_meta: dict | None = None, **kwargs) -> Tensor:
        """(num_preds, num_gts) cost."""


class BBoxL1Cost(BaseMatchCost):
    """L1 distance between boxes normalised by the image size, in ``'xyxy'`` or ``'xywh'``
    (centre-size) form. Needs ``img_meta['img_shape']``."""

    def __init__(self, box_format: str = "xyxy", weight: float = 1.0) -> None:
        super().__init__(weight=weight)
        if box_format not in ("xyxy", "xywh"):
            raise ValueError(f"BBoxL1Cost: box_format must be 'xyxy' or 'xywh', but got {box_format!r}")
        self.box_format = box_format

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        pred_bboxes, gt_bboxes = pred_instances.bboxes, gt_instances.bboxes
        if self.box_format == "xywh":
            pred_bboxes, gt_bboxes = bbox_xyxy_to_cxcywh(pred_bboxes), bbox_xyxy_to_cxcywh(gt_bboxes)
        if img_meta is None or "img_shape" not in img_meta:
            raise ValueError("BBoxL1Cost needs img_meta with 'img_shape' to normalise the boxes")
        img_h, img_w = img_meta["img_shape"][:2]
        factor = gt_bboxes.new_tensor([img_w, img_h, img_w, img_h])[None]
        return torch.cdist(pred_bboxes / factor, gt_bboxes / factor, p=1) * self.weight


class IoUCost(BaseMatchCost):
    """Negative overlap (``iou_mode`` 'iou' or 'giou')."""

    def __init__(self, iou_mode: str = "giou", weight: float = 1.0):
        super().__init__(weight=weight)
        self.iou_mode = iou_mode

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        overlaps = bbox_overlaps(pred_instances.bboxes, gt_instances.bboxes, mode=self.iou_mode)
        return -overlaps * self.weight


class ClassificationCost(BaseMatchCost):
    """Negative softmax probability of the gt class."""

    def __init__(self, weight: float = 1) -> None:
        super().__init__(weight=weight)

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        return -pred_instances.scores.softmax(-1)[:, gt_instances.labels] * self.weight


def _focal_terms(logits: Tensor, alpha: float, gamma: float, eps: float) -> tuple[Tensor, Tensor]:
    """Focal loss of each logit as a positive and as a negative."""
    prob = logits.sigmoid()
    neg_cost = -(1 - prob + eps).log() * (1 - alpha) * prob.pow(gamma)
    pos_cost = -(prob + eps).log() * alpha * (1 - prob).pow(gamma)
    return pos_cost, neg_cost


class FocalLossCost(BaseMatchCost):
    """Focal-loss cost of the gt class (positive minus negative term); with ``binary_input``
    the mean per-pixel focal cost between predicted mask logits and gt masks."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2, eps: float = 1e-12,
                 binary_input: bool = False, weight: float = 1.0) -> None:
        super().__init__(weight=weight)
        self.alpha = alpha
        self.gamma = gamma
        self.eps = eps
        self.binary_input = binary_input

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        if self.binary_input:
            logits, gt_masks = pred_instances.masks.flatten(1), gt_instances.masks.flatten(1).float()
            pos_cost, neg_cost = _focal_terms(logits, self.alpha, self.gamma, self.eps)
            cost = pos_cost @ gt_masks.T + neg_cost @ (1 - gt_masks).T
            return cost / logits.shape[1] * self.weight
        pos_cost, neg_cost = _focal_terms(pred_instances.scores, self.alpha, self.gamma, self.eps)
        labels = gt_instances.labels
        return (pos_cost[:, labels] - neg_cost[:, labels]) * self.weight


class DiceCost(BaseMatchCost):
    """Dice cost between predicted masks (``pred_act``: logits, sigmoid applied) and gt masks."""

    def __init__(self, pred_act: bool = False, eps: float = 1e-3, naive_dice: bool = True,
                 weight: float = 1.0) -> None:
        super().__init__(weight=weight)
        self.pred_act = pred_act
        self.eps = eps
        self.naive_dice = naive_dice

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        pred = pred_instances.masks.flatten(1)
        if self.pred_act:
            pred = pred.sigmoid()
        gt = gt_instances.masks.flatten(1).float()
        numerator = 2 * pred @ gt.T
        if self.naive_dice:
            denominator = pred.sum(-1)[:, None] + gt.sum(-1)[None, :]
        else:
            denominator = pred.pow(2).sum(1)[:, None] + gt.pow(2).sum(1)[None, :]
        return (1 - (numerator + self.eps) / (denominator + self.eps)) * self.weight


class CrossEntropyLossCost(BaseMatchCost):
    """Mean per-pixel sigmoid cross-entropy between mask logits and gt masks."""

    def __init__(self, use_sigmoid: bool = True, weight: float = 1.0) -> None:
        super().__init__(weight=weight)
        if not use_sigmoid:
            raise ValueError("CrossEntropyLossCost only supports use_sigmoid=True")
        self.use_sigmoid = use_sigmoid

    def __call__(self, pred_instances, gt_instances, img_meta=None, **kwargs) -> Tensor:
        logits = pred_instances.masks.flatten(1).float()
        gt = gt_instances.masks.flatten(1).float()
        pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
        neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
        return (pos @ gt.T + neg @ (1 - gt).T) / logits.shape[1] * self.weight
