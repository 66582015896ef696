"""Losses specific to the YOLO family (the others come from detmodels.losses)."""

from .iou_loss import IoULoss, bbox_overlaps

__all__ = ["IoULoss", "bbox_overlaps"]
