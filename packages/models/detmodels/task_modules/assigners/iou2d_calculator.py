"""The IoU calculator assigners build from ``iou_calculator=dict(type='BboxOverlaps2D')``."""

from __future__ import annotations

import torch
from torch import Tensor

from detcore.structures import BaseBoxes, bbox_overlaps
from detcore.structures.bbox import get_box_tensor


class BboxOverlaps2D:
    """Overlaps of axis-aligned boxes (detcore's ``bbox_overlaps``).

    Args:
        scale, dtype: with ``dtype='fp16'`` boxes are divided by ``scale`` and cast to
            float16 before the computation (to save GPU memory); the result comes back in
            float32 on the CPU.
    """

    def __init__(self, scale: float = 1.0, dtype: str | None = None):
        self.scale = scale
        self.dtype = dtype

    def __call__(self, bboxes1: Tensor | BaseBoxes, bboxes2: Tensor | BaseBoxes,
                 mode: str = "iou", is_aligned: bool = False) -> Tensor:
        """(m, n) overlaps of (m, 4) and (n, 4) boxes ((m,) when ``is_aligned``).

        A fifth column (a score) is dropped; ``mode`` is 'iou', 'iof' or 'giou'.
        """
        bboxes1, bboxes2 = get_box_tensor(bboxes1), get_box_tensor(bboxes2)
        for name, boxes in (("bboxes1", bboxes1), ("bboxes2", bboxes2)):
            if boxes.size(-1) not in (0, 4, 5):
                raise ValueError(f"BboxOverlaps2D: {name} must have 4 (or 5 with a score) "
                                 f"columns, but got shape {tuple(boxes.shape)}")
        bboxes1, bboxes2 = bboxes1[..., :4], bboxes2[..., :4]
        if self.dtype != "fp16":
            return bbox_overlaps(bboxes1, bboxes2, mode, is_aligned)
        overlaps = bbox_overlaps((bboxes1 / self.scale).half(), (bboxes2 / self.scale).half(),
                                 mode, is_aligned)
        if not overlaps.is_cuda and overlaps.dtype == torch.float16:
            overlaps = overlaps.float()
        return overlaps

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, dtype={self.dtype})"
