"""Identity coder for heads that regress boxes directly (DETR-style)."""

from __future__ import annotations

from torch import Tensor

from detcore.structures import BaseBoxes, HorizontalBoxes
from detcore.structures.bbox import get_box_tensor

from .base_bbox_coder import BaseBBoxCoder


class PseudoBBoxCoder(BaseBBoxCoder):
    """Encoding returns the gt boxes, decoding the predictions, unchanged."""

    def encode(self, bboxes: Tensor, gt_bboxes: Tensor | BaseBoxes) -> Tensor:
        return get_box_tensor(gt_bboxes)

    def decode(self, bboxes: Tensor, pred_bboxes: Tensor) -> Tensor | HorizontalBoxes:
        return HorizontalBoxes(pred_bboxes) if self.use_box_type else pred_bboxes
