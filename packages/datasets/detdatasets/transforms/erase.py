"""Erasing augmentations: CutOut (holes in the image only) and RandomErasing (patches
erased from the image, masks and seg map, with mostly erased objects dropped)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import BaseTransform, check_image, keep_instances


def _range(value, name: str, owner: str, upper: float | None = None) -> tuple:
    """A number n -> (n, n); a (low, high) tuple with 0 <= low < high (<= upper) as is."""
    if isinstance(value, numbers.Number):
        return (value, value)
    if (isinstance(value, Sequence) and len(value) == 2 and 0 <= value[0] < value[1]
            and (upper is None or value[1] <= upper)):
        return tuple(value)
    bound = "" if upper is None else f" <= {upper}"
    raise ValueError(f"{owner}: {name} must be a number or (low, high) with 0 <= low < "
                     f"high{bound}, got {value!r}")


class CutOut(BaseTransform):
    """Fill ``n_holes`` rectangles at random positions with ``fill_in`` (DeVries and
    Taylor, 2017). Annotations are left as they are, as in MMDetection.

    Each hole's top-left corner is uniform over the image and its size one of the
    candidates: ``cutout_shape`` (w, h) pixels or ``cutout_ratio`` (w, h) of the image
    (one pair or a list); holes are cut at the image border.

    Required Keys: img
    Modified Keys: img (in place)

    Args:
        n_holes: number of holes, or a (min, max) range drawn per sample.
        cutout_shape, cutout_ratio: exactly one of them.
        fill_in: fill colour (or a grey value).
    """

    def __init__(self, n_holes: int | Sequence[int],
                 cutout_shape: Sequence | None = None, cutout_ratio: Sequence | None = None,
                 fill_in: float | Sequence[float] = (0, 0, 0)):
        owner = type(self).__name__
        if (cutout_shape is None) == (cutout_ratio is None):
            raise ValueError(f"{owner}: give exactly one of cutout_shape and cutout_ratio")
        candidates = cutout_shape if cutout_ratio is None else cutout_ratio
        if not isinstance(candidates, Sequence):
            raise TypeError(f"{owner}: cutout_shape / cutout_ratio must be a (w, h) pair or a "
                            f"list of them, got {candidates!r}")
        self.n_holes = _range(n_holes, "n_holes", owner)
        self.cutout_shape = cutout_shape
        self.cutout_ratio = cutout_ratio
        self.fill_in = fill_in
        self._candidates = list(candidates) if isinstance(candidates, list) else [candidates]

    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        height, width = img.shape[:2]
        for _ in range(np.random.randint(self.n_holes[0], self.n_holes[1] + 1)):
            x1 = np.random.randint(0, width)
            y1 = np.random.randint(0, height)
            hole_w, hole_h = self._candidates[np.random.randint(0, len(self._candidates))]
            if self.cutout_ratio is not None:
                hole_w, hole_h = int(hole_w * width), int(hole_h * height)
            img[y1:min(y1 + hole_h, height), x1:min(x1 + hole_w, width)] = self.fill_in
        return results


class RandomErasing(BaseTransform):
    """Erase ``n_patches`` random rectangles (Zhong et al., 2020) from the image, the
    masks and the seg map; objects erased for ``bbox_erased_thr`` or more of their box
    area are dropped with their labels, flags and masks.

    Patch sides are ``ratio`` of the image's, drawn per patch (one ratio for both sides
    when ``squared``); patch positions are uniform inside the image.

    Required Keys: img, gt_bboxes (optional), gt_bboxes_labels (optional), gt_ignore_flags
    (optional), gt_masks (optional, BitmapMasks), gt_seg_map (optional)
    Modified Keys: img (in place), gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_seg_map

    Args:
        n_patches: number of patches, or a (min, max) range.
        ratio: patch side ratio, or a (min, max) range within [0, 1].
        squared: one ratio for both sides.
        bbox_erased_thr: drop objects with at least this erased fraction of their box.
        img_border_value, mask_border_value, seg_ignore_label: fill values.
    """

    def __init__(self, n_patches: int | Sequence[int], ratio: float | Sequence[float],
                 squared: bool = True, bbox_erased_thr: float = 0.9,
                 img_border_value: float | Sequence[float] = 128, mask_border_value: int = 0,
                 seg_ignore_label: int = 255):
        owner = type(self).__name__
        self.n_patches = _range(n_patches, "n_patches", owner)
        self.ratio = _range(ratio, "ratio", owner, upper=1)
        self.squared = squared
        self.bbox_erased_thr = bbox_erased_thr
        self.img_border_value = img_border_value
        self.mask_border_value = mask_border_value
        self.seg_ignore_label = seg_ignore_label

    def _random_ratio(self) -> float:
        low, high = self.ratio
        return np.random.random() * (high - low) + low

    def _patches(self, height: int, width: int) -> np.ndarray:
        """(P, 4) int64 xyxy patches, drawn in MMDetection's order."""
        patches = []
        for _ in range(np.random.randint(self.n_patches[0], self.n_patches[1] + 1)):
            ratio_h = self._random_ratio()
            ratio_w = ratio_h if self.squared else self._random_ratio()
            patch_h, patch_w = int(height * ratio_h), int(width * ratio_w)
            x1 = np.random.randint(0, max(width - patch_w, 1))
            y1 = np.random.randint(0, max(height - patch_h, 1))
            patches.append([x1, y1, x1 + patch_w, y1 + patch_h])
        return np.array(patches, dtype=np.int64).reshape(-1, 4)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        from detcore.structures import BitmapMasks

        img = check_image(results, type(self).__name__)
        patches = self._patches(*img.shape[:2])
        for x1, y1, x2, y2 in patches:
            img[y1:y2, x1:x2] = self.img_border_value

        boxes = results.get("gt_bboxes")
        if boxes is not None:
            boxes = boxes.numpy()
            top_left = np.maximum(boxes[:, None, :2], patches[None, :, :2])
            bottom_right = np.minimum(boxes[:, None, 2:], patches[None, :, 2:])
            overlap = np.clip(bottom_right - top_left, 0, None).prod(axis=-1).sum(axis=-1)
            box_areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            keep_instances(results, overlap / (box_areas + 1e-7) < self.bbox_erased_thr)

        masks = results.get("gt_masks")
        if masks is not None:
            if not isinstance(masks, BitmapMasks):
                raise TypeError(f"{type(self).__name__} erases mask pixels and needs "
                                f"BitmapMasks (LoadAnnotations poly2mask=True), got "
                                f"{type(masks).__name__}")
            erased = masks.masks.copy()
            for x1, y1, x2, y2 in patches:
                erased[:, y1:y2, x1:x2] = self.mask_border_value
            results["gt_masks"] = BitmapMasks(erased, masks.height, masks.width)
        if results.get("gt_seg_map") is not None:
            for x1, y1, x2, y2 in patches:
                results["gt_seg_map"][y1:y2, x1:x2] = self.seg_ignore_label
        return results
