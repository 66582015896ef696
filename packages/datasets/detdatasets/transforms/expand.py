"""Expand: place the image on a larger canvas filled with the mean colour (SSD's zoom out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import (
    BaseTransform,
    check_image,
    record_homography,
    translation_matrix,
)


class Expand(BaseTransform):
    """With probability ``prob``, put the image at a random place on a canvas ``ratio``
    times larger (ratio uniform in ``ratio_range``), filled with ``mean``.

    Required Keys: img, gt_bboxes (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_masks, gt_seg_map
    Added Keys: homography_matrix (when expanded)

    Args:
        mean: fill colour, in RGB order when ``to_rgb`` (it is reversed for the BGR image).
        to_rgb: whether ``mean`` is given in RGB order.
        ratio_range: (min, max) canvas / image size ratio.
        seg_ignore_label: fill value of the expanded seg map (required with a seg map).
        prob: probability of expanding.
    """

    def __init__(self, mean: Sequence[float] = (0, 0, 0), to_rgb: bool = True,
                 ratio_range: Sequence[float] = (1, 4), seg_ignore_label: int | None = None,
                 prob: float = 0.5):
        if len(ratio_range) != 2 or not 1 <= ratio_range[0] <= ratio_range[1]:
            raise ValueError(f"{type(self).__name__}: ratio_range must be (min, max) with "
                             f"1 <= min <= max, got {ratio_range!r}")
        self.mean = tuple(mean)
        self.to_rgb = to_rgb
        self.ratio_range = tuple(ratio_range)
        self.seg_ignore_label = seg_ignore_label
        self.prob = prob
        self._fill = self.mean[::-1] if to_rgb else self.mean

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        if np.random.uniform(0, 1) > self.prob:
            return results
        img = check_image(results, type(self).__name__)
        height, width = img.shape[:2]
        ratio = np.random.uniform(*self.ratio_range)
        left = int(np.random.uniform(0, width * ratio - width))
        top = int(np.random.uniform(0, height * ratio - height))
        canvas_h, canvas_w = int(height * ratio), int(width * ratio)

        fill = self._fill if img.ndim == 3 else self._fill[0]
        canvas = np.empty((canvas_h, canvas_w, *img.shape[2:]), dtype=img.dtype)
        canvas[...] = fill
        canvas[top:top + height, left:left + width] = img
        results["img"] = canvas
        results["img_shape"] = canvas.shape[:2]
        if results.get("gt_bboxes") is not None:
            results["gt_bboxes"].translate_([left, top])
        if results.get("gt_masks") is not None:
            results["gt_masks"] = results["gt_masks"].expand(canvas_h, canvas_w, top, left)
        seg = results.get("gt_seg_map")
        if seg is not None:
            if self.seg_ignore_label is None:
                raise ValueError(f"{type(self).__name__}: set seg_ignore_label to expand "
                                 f"results['gt_seg_map']")
            expanded = np.full((canvas_h, canvas_w), self.seg_ignore_label, dtype=seg.dtype)
            expanded[top:top + height, left:left + width] = seg
            results["gt_seg_map"] = expanded
        record_homography(results, translation_matrix(left, top))
        return results
