"""Assigners: which ground truth each prior / prediction learns from."""

from .assign_result import AssignResult
from .atss_assigner import ATSSAssigner
from .base_assigner import BaseAssigner
from .hungarian_assigner import HungarianAssigner
from .iou2d_calculator import BboxOverlaps2D
from .match_cost import (
    BaseMatchCost,
    BBoxL1Cost,
    ClassificationCost,
    CrossEntropyLossCost,
    DiceCost,
    FocalLossCost,
    IoUCost,
)
from .max_iou_assigner import MaxIoUAssigner
from .sim_ota_assigner import SimOTAAssigner
from .task_aligned_assigner import TaskAlignedAssigner

__all__ = ["ATSSAssigner", "AssignResult", "BBoxL1Cost", "BaseAssigner", "BaseMatchCost",
           "BboxOverlaps2D", "ClassificationCost", "CrossEntropyLossCost", "DiceCost",
           "FocalLossCost", "HungarianAssigner", "IoUCost", "MaxIoUAssigner", "SimOTAAssigner",
           "TaskAlignedAssigner"]
