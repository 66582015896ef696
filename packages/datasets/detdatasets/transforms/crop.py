"""Random crops: a window of a given size (RandomCrop) or one that overlaps every box by a
minimum IoU (MinIoURandomCrop, SSD's sampler)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import (
    BaseTransform,
    boxes_from_masks,
    check_image,
    keep_instances,
    record_homography,
    translation_matrix,
)

CROP_TYPES = ("absolute", "absolute_range", "relative", "relative_range")


def crop_results(results: dict, window: Sequence[int], keep: np.ndarray | None) -> None:
    """Cut ``window`` (x1, y1, x2, y2) out of the image, seg map and masks, keep the
    objects in ``keep`` (all when None) and record the shift. Boxes are left to the caller."""
    x1, y1, x2, y2 = (int(v) for v in window)
    results["img"] = results["img"][y1:y2, x1:x2, ...]
    results["img_shape"] = results["img"].shape[:2]
    if results.get("gt_seg_map") is not None:
        results["gt_seg_map"] = results["gt_seg_map"][y1:y2, x1:x2]
    if keep is not None:
        keep_instances(results, keep)
    if results.get("gt_masks") is not None:
        results["gt_masks"] = results["gt_masks"].crop(np.array([x1, y1, x2, y2]))
    record_homography(results, translation_matrix(-x1, -y1))


class RandomCrop(BaseTransform):
    """Crop a random window; boxes are shifted, clipped, and those left outside dropped.

    ``crop_size`` by ``crop_type`` (sizes are capped at the image size; the orders are
    MMDetection's):

    * 'absolute': (w, h) pixels.
    * 'absolute_range': h and w each drawn from [crop_size[0], crop_size[1]] pixels.
    * 'relative': (w_ratio, h_ratio) of the image, in (0, 1].
    * 'relative_range': (h_min, w_min) ratios, each drawn from [min, 1].

    Required Keys: img, gt_bboxes (optional), gt_bboxes_labels (optional), gt_ignore_flags
    (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_seg_map
    Added Keys: homography_matrix

    Args:
        allow_negative_crop: keep a crop without any box; otherwise return None (the
            dataset draws another sample).
        recompute_bbox: replace the boxes by the bounds of the cropped masks.
        bbox_clip_border: clip boxes to the crop.
    """

    def __init__(self, crop_size: Sequence[float], crop_type: str = "absolute",
                 allow_negative_crop: bool = False, recompute_bbox: bool = False,
                 bbox_clip_border: bool = True):
        owner = type(self).__name__
        if crop_type not in CROP_TYPES:
            raise ValueError(f"{owner}: crop_type must be one of {CROP_TYPES}, got {crop_type!r}")
        first, second = crop_size
        if crop_type.startswith("absolute"):
            if not (isinstance(first, int) and isinstance(second, int) and first > 0
                    and second > 0):
                raise ValueError(f"{owner}: crop_type={crop_type!r} needs positive int "
                                 f"crop_size, got {crop_size!r}")
            if crop_type == "absolute_range" and first > second:
                raise ValueError(f"{owner}: absolute_range crop_size must be (min, max), got "
                                 f"{crop_size!r}")
        elif not (0 < first <= 1 and 0 < second <= 1):
            raise ValueError(f"{owner}: crop_type={crop_type!r} needs crop_size ratios in "
                             f"(0, 1], got {crop_size!r}")
        self.crop_size = tuple(crop_size)
        self.crop_type = crop_type
        self.allow_negative_crop = allow_negative_crop
        self.recompute_bbox = recompute_bbox
        self.bbox_clip_border = bbox_clip_border

    def _crop_shape(self, height: int, width: int) -> tuple[int, int]:
        """(crop_h, crop_w) for an image of (height, width)."""
        if self.crop_type == "absolute":
            return min(self.crop_size[1], height), min(self.crop_size[0], width)
        if self.crop_type == "absolute_range":
            low, high = self.crop_size
            crop_h = np.random.randint(min(height, low), min(height, high) + 1)
            crop_w = np.random.randint(min(width, low), min(width, high) + 1)
            return int(crop_h), int(crop_w)
        if self.crop_type == "relative":
            ratio_w, ratio_h = self.crop_size
        else:
            low = np.asarray(self.crop_size, dtype=np.float32)
            ratio_h, ratio_w = low + np.random.rand(2) * (1 - low)
        return int(height * ratio_h + 0.5), int(width * ratio_w + 0.5)

    @autocast_box_type()
    def transform(self, results: dict) -> dict | None:
        img = check_image(results, type(self).__name__)
        height, width = img.shape[:2]
        crop_h, crop_w = self._crop_shape(height, width)
        top = int(np.random.randint(0, max(height - crop_h, 0) + 1))
        left = int(np.random.randint(0, max(width - crop_w, 0) + 1))
        window = (left, top, left + crop_w, top + crop_h)
        boxes = results.get("gt_bboxes")
        keep = None
        if boxes is not None:
            boxes.translate_([-left, -top])
            if self.bbox_clip_border:
                boxes.clip_((crop_h, crop_w))
            keep = boxes.is_inside((crop_h, crop_w)).numpy()
            if not keep.any() and not self.allow_negative_crop:
                return None
        crop_results(results, window, keep)
        if self.recompute_bbox and keep is not None and results.get("gt_masks") is not None:
            results["gt_bboxes"] = boxes_from_masks(results["gt_masks"], results["gt_bboxes"])
        return results


class MinIoURandomCrop(BaseTransform):
    """SSD-style crop: every kept box overlaps the crop by at least a randomly chosen IoU.

    Per sample a mode is drawn from (1, *min_ious, 0); 1 keeps the image as it is. For
    other modes up to 50 windows (sides in [min_crop_size, 1] of the image, aspect ratio
    h / w in [0.5, 2]) are tried; a window is accepted when the IoU of each box with it
    is >= the mode and at least one box centre lies inside; the boxes whose centres lie
    inside are kept, shifted and clipped. If no window is accepted, another mode is drawn.

    The window's left/top are drawn uniformly from [0, w - new_w] / [0, h - new_h].
    (MMDetection 3.3.0 calls numpy's ``uniform(w - new_w)``, i.e. uniform between that
    value and 1, which is not what its comments describe; this follows the comments.)

    Required Keys: img, gt_bboxes, gt_bboxes_labels (optional), gt_ignore_flags (optional),
    gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_seg_map
    Added Keys: homography_matrix (when cropped)
    """

    def __init__(self, min_ious: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
                 min_crop_size: float = 0.3, bbox_clip_border: bool = True):
        self.min_ious = tuple(min_ious)
        self.min_crop_size = min_crop_size
        self.bbox_clip_border = bbox_clip_border
        self.sample_mode = (1, *self.min_ious, 0)

    def _random_window(self, height: int, width: int) -> np.ndarray | None:
        """An integer (x1, y1, x2, y2) window, or None for a rejected aspect ratio or a
        degenerate window."""
        new_w = np.random.uniform(self.min_crop_size * width, width)
        new_h = np.random.uniform(self.min_crop_size * height, height)
        if not 0.5 <= new_h / new_w <= 2:
            return None
        left = np.random.uniform(0, width - new_w)
        top = np.random.uniform(0, height - new_h)
        window = np.array([int(left), int(top), int(left + new_w), int(top + new_h)])
        if window[2] == window[0] or window[3] == window[1]:
            return None
        return window

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        from detcore.structures import HorizontalBoxes

        img = check_image(results, type(self).__name__)
        if results.get("gt_bboxes") is None:
            raise KeyError(f"{type(self).__name__} needs results['gt_bboxes']; put "
                           f"LoadAnnotations before it")
        boxes = results["gt_bboxes"]
        height, width = img.shape[:2]
        while True:
            min_iou = self.sample_mode[np.random.randint(len(self.sample_mode))]
            if min_iou == 1:
                return results
            for _ in range(50):
                window = self._random_window(height, width)
                if window is None:
                    continue
                patch = HorizontalBoxes(window[None].astype(np.float32))
                ious = boxes.overlaps(patch, boxes).numpy().reshape(-1)
                if len(ious) and ious.min() < min_iou:
                    continue
                centers = boxes.centers.numpy()
                inside = ((centers > window[:2]) & (centers < window[2:])).all(axis=1)
                if len(ious) and not inside.any():
                    continue
                crop_results(results, window, inside if len(ious) else None)
                if len(ious):
                    results["gt_bboxes"].translate_([-window[0], -window[1]])
                    if self.bbox_clip_border:
                        results["gt_bboxes"].clip_(results["img_shape"])
                return results
