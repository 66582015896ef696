"""RandomAffine: YOLOX's random rotation, scaling, shear and translation in one warp."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import (
    BaseTransform,
    check_image,
    keep_instances,
    record_homography,
)


def rotation_matrix(degrees: float) -> np.ndarray:
    radian = math.radians(degrees)
    cos, sin = math.cos(radian), math.sin(radian)
    return np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], dtype=np.float32)


def scaling_matrix(ratio: float) -> np.ndarray:
    return np.array([[ratio, 0, 0], [0, ratio, 0], [0, 0, 1]], dtype=np.float32)


def shear_matrix(x_degrees: float, y_degrees: float) -> np.ndarray:
    tan_x, tan_y = math.tan(math.radians(x_degrees)), math.tan(math.radians(y_degrees))
    return np.array([[1, tan_x, 0], [tan_y, 1, 0], [0, 0, 1]], dtype=np.float32)


def _warp_masks(masks, matrix: np.ndarray, out_shape: tuple[int, int]):
    """Instance masks through the (3, 3) affine ``matrix`` onto an ``out_shape`` canvas:
    bitmaps with nearest-neighbour sampling, polygons vertex by vertex (clipped to it)."""
    from detcore.structures import BitmapMasks, PolygonMasks

    height, width = out_shape
    if isinstance(masks, BitmapMasks):
        # one cv2 call per mask: OpenCV limits the channels of a single warp
        warped = [cv2.warpPerspective(m, matrix, (width, height), flags=cv2.INTER_NEAREST)
                  for m in masks.masks]
        return BitmapMasks(np.stack(warped) if warped else np.zeros((0, height, width),
                                                                   np.uint8), height, width)
    if isinstance(masks, PolygonMasks):
        parts = [part for instance in masks.masks for part in instance]
        if not parts:
            return PolygonMasks(masks.masks, height, width)
        points = np.concatenate(parts).reshape(-1, 2)
        projected = cv2.perspectiveTransform(points[None].astype(np.float64),
                                             matrix.astype(np.float64))[0]
        projected = np.clip(projected, 0, [width, height]).reshape(-1)
        split = np.split(projected, np.cumsum([len(p) for p in parts])[:-1])
        sizes = np.cumsum([0, *(len(instance) for instance in masks.masks)])
        return PolygonMasks([split[a:b] for a, b in zip(sizes[:-1], sizes[1:])], height, width)
    raise TypeError(f"RandomAffine: gt_masks must be BitmapMasks or PolygonMasks, got "
                    f"{type(masks).__name__}")


class RandomAffine(BaseTransform):
    """Warp by translate @ shear @ rotate @ scale, each drawn uniformly per sample.

    The output canvas is the image grown by ``border`` (w, h) on each side (negative
    values shrink it, as Mosaic's 2x canvas is cut back with border=(-w/2, -h/2)). Boxes
    are mapped by their four corners and take the bounds; boxes left outside are
    dropped together with their labels, flags and masks. Masks and the seg map are
    warped with nearest-neighbour sampling (seg map border value 255).

    Required Keys: img, gt_bboxes (optional), gt_bboxes_labels (optional), gt_ignore_flags
    (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_seg_map
    Added Keys: homography_matrix

    Args:
        max_rotate_degree: rotation drawn from [-d, d] degrees.
        max_translate_ratio: shift drawn from [-r, r] of the canvas width/height.
        scaling_ratio_range: (min, max) zoom.
        max_shear_degree: shear angles drawn from [-d, d] degrees.
        border: (w, h) pixels added to each side of the canvas.
        border_val: fill colour (BGR).
        bbox_clip_border: clip boxes to the canvas.
    """

    def __init__(self, max_rotate_degree: float = 10.0, max_translate_ratio: float = 0.1,
                 scaling_ratio_range: Sequence[float] = (0.5, 1.5),
                 max_shear_degree: float = 2.0, border: Sequence[int] = (0, 0),
                 border_val: Sequence[int] = (114, 114, 114), bbox_clip_border: bool = True):
        owner = type(self).__name__
        if not 0 <= max_translate_ratio <= 1:
            raise ValueError(f"{owner}: max_translate_ratio must be in [0, 1], got "
                             f"{max_translate_ratio}")
        if not 0 < scaling_ratio_range[0] <= scaling_ratio_range[1]:
            raise ValueError(f"{owner}: scaling_ratio_range must be (min, max) with "
                             f"0 < min <= max, got {scaling_ratio_range!r}")
        self.max_rotate_degree = max_rotate_degree
        self.max_translate_ratio = max_translate_ratio
        self.scaling_ratio_range = tuple(scaling_ratio_range)
        self.max_shear_degree = max_shear_degree
        self.border = tuple(border)
        self.border_val = tuple(border_val)
        self.bbox_clip_border = bbox_clip_border

    def _random_warp_matrix(self, height: int, width: int) -> np.ndarray:
        """(3, 3) float32 warp, its parameters drawn in MMDetection's order."""
        rotation = rotation_matrix(np.random.uniform(-self.max_rotate_degree,
                                                     self.max_rotate_degree))
        scaling = scaling_matrix(np.random.uniform(*self.scaling_ratio_range))
        shear = shear_matrix(np.random.uniform(-self.max_shear_degree, self.max_shear_degree),
                             np.random.uniform(-self.max_shear_degree, self.max_shear_degree))
        shift = self.max_translate_ratio
        translation = np.eye(3, dtype=np.float32)
        translation[0, 2] = np.random.uniform(-shift, shift) * width
        translation[1, 2] = np.random.uniform(-shift, shift) * height
        return translation @ shear @ rotation @ scaling

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        height = img.shape[0] + self.border[1] * 2
        width = img.shape[1] + self.border[0] * 2
        matrix = self._random_warp_matrix(height, width)
        border_val = self.border_val if img.ndim == 3 else self.border_val[0]
        results["img"] = cv2.warpPerspective(img, matrix, dsize=(width, height),
                                             borderValue=border_val)
        results["img_shape"] = results["img"].shape[:2]
        if results.get("gt_masks") is not None:
            results["gt_masks"] = _warp_masks(results["gt_masks"], matrix, (height, width))
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = cv2.warpPerspective(
                results["gt_seg_map"], matrix, dsize=(width, height), flags=cv2.INTER_NEAREST,
                borderValue=255)
        boxes = results.get("gt_bboxes")
        if boxes is not None and len(boxes):
            boxes.project_(matrix)
            if self.bbox_clip_border:
                boxes.clip_((height, width))
            keep_instances(results, boxes.is_inside((height, width)).numpy())
        record_homography(results, matrix)
        return results
