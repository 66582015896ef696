"""FilterAnnotations: drop objects too small (by box or by mask) to learn from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import BaseTransform, keep_instances


class FilterAnnotations(BaseTransform):
    """Keep the objects whose box is wider and taller than ``min_gt_bbox_wh`` (``by_box``)
    and/or whose mask covers at least ``min_gt_mask_area`` pixels (``by_mask``).

    When no object passes, the sample is dropped (None; the dataset draws another) if
    ``keep_empty`` (MMDetection's name and default), otherwise returned without objects.
    A sample that had no objects to begin with is returned unchanged.

    Required Keys: gt_bboxes, gt_masks (with ``by_mask``)
    Modified Keys: gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    """

    def __init__(self, min_gt_bbox_wh: Sequence[float] = (1, 1), min_gt_mask_area: int = 1,
                 by_box: bool = True, by_mask: bool = False, keep_empty: bool = True):
        if not (by_box or by_mask):
            raise ValueError(f"{type(self).__name__}: at least one of by_box and by_mask must "
                             f"be True")
        self.min_gt_bbox_wh = tuple(min_gt_bbox_wh)
        self.min_gt_mask_area = min_gt_mask_area
        self.by_box = by_box
        self.by_mask = by_mask
        self.keep_empty = keep_empty

    @autocast_box_type()
    def transform(self, results: dict) -> dict | None:
        owner = type(self).__name__
        if "gt_bboxes" not in results:
            raise KeyError(f"{owner} needs results['gt_bboxes']; put LoadAnnotations before it")
        boxes = results["gt_bboxes"]
        if len(boxes) == 0:
            return results
        keep = np.ones(len(boxes), dtype=bool)
        if self.by_box:
            min_w, min_h = self.min_gt_bbox_wh
            keep &= ((boxes.widths > min_w) & (boxes.heights > min_h)).numpy()
        if self.by_mask:
            if results.get("gt_masks") is None:
                raise KeyError(f"{owner}(by_mask=True) needs results['gt_masks']; load them "
                               f"with LoadAnnotations(with_mask=True)")
            keep &= results["gt_masks"].areas >= self.min_gt_mask_area
        if not keep.any() and self.keep_empty:
            return None
        keep_instances(results, keep)
        return results
