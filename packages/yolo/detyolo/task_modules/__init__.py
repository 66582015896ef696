"""YOLO task modules: batched assigners, box coders and ground-truth batching."""

from .batch_task_aligned_assigner import BatchTaskAlignedAssigner
from .gt_batching import pad_gt_instances

__all__ = ["BatchTaskAlignedAssigner", "pad_gt_instances"]
