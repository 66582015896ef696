"""Point-distance box coding of anchor-free heads (FCOS, GFL): a box is the (left, top,
right, bottom) distances from a point to its sides."""

from __future__ import annotations

from torch import Tensor

from detcore.structures import BaseBoxes, HorizontalBoxes
from detcore.structures.bbox import bbox2distance, distance2bbox, get_box_tensor

from .base_bbox_coder import BaseBBoxCoder
from .delta_xywh_bbox_coder import MaxShape


class DistancePointBBoxCoder(BaseBBoxCoder):
    """Distance coder; ``clip_border`` clips decoded boxes to ``max_shape`` when given."""

    def __init__(self, clip_border: bool | None = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clip_border = clip_border

    def encode(self, points: Tensor, gt_bboxes: Tensor | BaseBoxes, max_dis: float | None = None,
               eps: float = 0.1) -> Tensor:
        """(N, 4) distances from (N, 2) points to (N, 4) boxes, clamped to
        [0, max_dis - eps] when ``max_dis`` is given."""
        gt_bboxes = get_box_tensor(gt_bboxes)
        if points.size(0) != gt_bboxes.size(0) or points.size(-1) != 2 or gt_bboxes.size(-1) != 4:
            raise ValueError(f"encode needs (N, 2) points and (N, 4) gt boxes, but got "
                             f"{tuple(points.shape)} and {tuple(gt_bboxes.shape)}")
        return bbox2distance(points, gt_bboxes, max_dis, eps)

    def decode(self, points: Tensor, pred_bboxes: Tensor,
               max_shape: MaxShape = None) -> Tensor | HorizontalBoxes:
        """(..., 4) boxes from (..., 2) points and (..., 4) distances; ``max_shape`` is one
        (h, w) or, for (B, N, 4) input, (B, 2)."""
        if points.size(0) != pred_bboxes.size(0) or points.size(-1) != 2 or pred_bboxes.size(-1) != 4:
            raise ValueError(f"decode needs (..., 2) points and (..., 4) distances of the same "
                             f"length, but got {tuple(points.shape)} and {tuple(pred_bboxes.shape)}")
        if self.clip_border is False:
            max_shape = None
        bboxes = distance2bbox(points, pred_bboxes, max_shape)
        return HorizontalBoxes(bboxes) if self.use_box_type else bboxes
