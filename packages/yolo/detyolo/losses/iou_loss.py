"""YOLO's IoU loss: IoU, GIoU or CIoU between aligned boxes, with YOLOv5's CIoU.

YOLOv5 and Ultralytics weight CIoU's aspect-ratio term with alpha = v / (v - IoU + 1 + eps),
always; MMDetection's CIoU uses (IoU > 0.5) * v / (1 - IoU + v). The two give different
losses and gradients, so YOLO models use this module (MMYOLO's ``IoULoss``), not
detmodels' ``CIoULoss``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from detcore.structures.bbox.transforms import bbox_cxcywh_to_xyxy

IOU_MODES = ("iou", "giou", "ciou")
BBOX_FORMATS = ("xyxy", "xywh")


def bbox_overlaps(pred: Tensor, target: Tensor, iou_mode: str = "ciou", bbox_format: str = "xywh",
                  eps: float = 1e-7) -> Tensor:
    """Aligned overlaps (...,) of (..., 4) boxes ``pred`` and ``target``, clamped to [-1, 1].

    ``bbox_format`` 'xywh' means centre x, centre y, width, height. As in YOLOv5, ``eps``
    is added to the heights and to the union; CIoU's alpha carries no gradient.
    """
    if iou_mode not in IOU_MODES:
        raise ValueError(f"iou_mode must be one of {IOU_MODES}, got {iou_mode!r}")
    if bbox_format not in BBOX_FORMATS:
        raise ValueError(f"bbox_format must be one of {BBOX_FORMATS}, got {bbox_format!r}")
    if bbox_format == "xywh":
        pred, target = bbox_cxcywh_to_xyxy(pred), bbox_cxcywh_to_xyxy(target)
    px1, py1, px2, py2 = pred.unbind(-1)
    tx1, ty1, tx2, ty2 = target.unbind(-1)
    overlap = ((torch.min(px2, tx2) - torch.max(px1, tx1)).clamp(min=0)
               * (torch.min(py2, ty2) - torch.max(py1, ty1)).clamp(min=0))
    w1, h1 = px2 - px1, py2 - py1 + eps
    w2, h2 = tx2 - tx1, ty2 - ty1 + eps
    union = w1 * h1 + w2 * h2 - overlap + eps
    ious = overlap / union
    if iou_mode == "iou":
        return ious.clamp(min=-1.0, max=1.0)

    enclose_w = (torch.max(px2, tx2) - torch.min(px1, tx1)).clamp(min=0)
    enclose_h = (torch.max(py2, ty2) - torch.min(py1, ty1)).clamp(min=0)
    if iou_mode == "giou":
        convex_area = enclose_w * enclose_h + eps
        ious = ious - (convex_area - union) / convex_area
    else:
        diagonal2 = enclose_w ** 2 + enclose_h ** 2 + eps
        centre_distance2 = ((tx1 + tx2 - px1 - px2) ** 2 + (ty1 + ty2 - py1 - py2) ** 2) / 4
        v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
        with torch.no_grad():
            alpha = v / (v - ious + (1 + eps))
        ious = ious - (centre_distance2 / diagonal2 + alpha * v)
    return ious.clamp(min=-1.0, max=1.0)


class IoULoss(nn.Module):
    """``loss_weight * reduce(weight * (1 - overlap))``; with ``return_iou`` also the (N,)
    overlaps (YOLOv5 uses them as objectness targets).

    Args:
        iou_mode: 'iou', 'giou' or 'ciou'.
        bbox_format: 'xywh' (centre, size) or 'xyxy'.
        reduction: 'none', 'mean' or 'sum'; ``avg_factor`` divides a 'mean' sum instead of
            the count. A (N, k) ``weight`` is averaged to (N,).
    """

    def __init__(self, iou_mode: str = "ciou", bbox_format: str = "xywh", eps: float = 1e-7,
                 reduction: str = "mean", loss_weight: float = 1.0, return_iou: bool = True):
        super().__init__()
        if iou_mode not in IOU_MODES:
            raise ValueError(f"IoULoss: iou_mode must be one of {IOU_MODES}, got {iou_mode!r}")
        if bbox_format not in BBOX_FORMATS:
            raise ValueError(f"IoULoss: bbox_format must be one of {BBOX_FORMATS}, "
                             f"got {bbox_format!r}")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"IoULoss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.iou_mode = iou_mode
        self.bbox_format = bbox_format
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.return_iou = return_iou

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | Tensor | None = None,
                reduction_override: str | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """pred, target: (N, 4); weight: (N,) or (N, k)."""
        reduction = reduction_override or self.reduction
        if weight is not None and weight.dim() > 1:
            weight = weight.mean(-1)
        iou = bbox_overlaps(pred, target, self.iou_mode, self.bbox_format, self.eps)
        loss = 1.0 - iou
        if weight is not None:
            loss = loss * weight
        if reduction == "sum":
            loss = loss.sum()
        elif reduction == "mean":
            loss = loss.sum() / avg_factor if avg_factor is not None else loss.mean()
        loss = self.loss_weight * loss
        return (loss, iou) if self.return_iou else loss
