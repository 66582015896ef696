"""YOLOv5RandomAffine: YOLOv5/YOLOv8's random rotation, scaling, shear and translation.

It differs from YOLOX's RandomAffine (detdatasets) in three ways: the warp turns about
the image centre and the translation places that centre around the middle of the output
canvas; boxes that become too small, too thin or lose too much area are dropped
(``min_bbox_size``, ``max_aspect_ratio``, ``min_area_ratio``); and with polygon masks each
box is recomputed from its warped outline (resampled to ``resample_num`` points), which
is much tighter than warping the box's corners under rotation ("mask refine").
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detcore.structures import PolygonMasks
from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.affine import rotation_matrix, scaling_matrix, shear_matrix
from detdatasets.transforms.base import (
    BaseTransform,
    check_image,
    keep_instances,
    record_homography,
    translation_matrix,
)


def resample_polygons(masks: PolygonMasks, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Every polygon of ``masks`` as ``num_points`` points evenly spaced along its closed
    outline (in vertex-index steps, as Ultralytics' ``resample_segments``).

    Returns:
        points (P, num_points, 2) float64 and owner (P,) int: the instance of each polygon.
    """
    polygons = [np.asarray(p, dtype=np.float64).reshape(-1, 2)
                for parts in masks.masks for p in parts]
    owner = np.repeat(np.arange(len(masks)), [len(parts) for parts in masks.masks])
    points = np.empty((len(polygons), num_points, 2))
    for i, polygon in enumerate(polygons):  # polygons differ in length: one interp each
        closed = np.concatenate([polygon, polygon[:1]])
        steps = np.linspace(0, len(closed) - 1, num_points)
        vertex = np.arange(len(closed))
        points[i, :, 0] = np.interp(steps, vertex, closed[:, 0])
        points[i, :, 1] = np.interp(steps, vertex, closed[:, 1])
    return points, owner


def boxes_of_points_inside(points: np.ndarray, owner: np.ndarray, num_instances: int,
                           height: int, width: int) -> np.ndarray:
    """(num_instances, 4) float32 bounds of each instance's points that lie in the
    [0, width] x [0, height] image; zeros for an instance with none inside.

    Args:
        points: (P, K, 2) polygon points; owner: (P,) instance of each polygon.
    """
    x, y = points[..., 0], points[..., 1]
    inside = (x >= 0) & (y >= 0) & (x <= width) & (y <= height)
    lows = np.full((num_instances, 2), np.inf)
    highs = np.full((num_instances, 2), -np.inf)
    np.minimum.at(lows, owner, np.stack([np.where(inside, x, np.inf).min(1),
                                         np.where(inside, y, np.inf).min(1)], axis=1))
    np.maximum.at(highs, owner, np.stack([np.where(inside, x, -np.inf).max(1),
                                          np.where(inside, y, -np.inf).max(1)], axis=1))
    boxes = np.concatenate([lows, highs], axis=1)
    boxes[~np.isfinite(boxes).all(axis=1)] = 0
    return boxes.astype(np.float32)


class YOLOv5RandomAffine(BaseTransform):
    """Warp by translate @ shear @ rotate @ scale @ (centre to origin), drawn per sample.

    The output canvas is the input grown by ``border`` (w, h) on each side (after Mosaic,
    border=(-w // 2, -h // 2) cuts its 2x canvas back to w x h). The parameters are
    drawn in this order: rotation in [-max_rotate_degree, max_rotate_degree], scale in
    ``scaling_ratio_range``, x and y shear in [-max_shear_degree, max_shear_degree],
    and the position of the image centre in (0.5 +- max_translate_ratio) of the canvas
    width and height.

    Boxes are warped by their corners (or, with PolygonMasks, recomputed from the warped
    polygons), clipped to the canvas with ``bbox_clip_border``, and an object is kept only
    if its box is wider and taller than ``min_bbox_size``, its area is more than
    ``min_area_ratio`` of the original box's area times the squared scale, and its aspect
    ratio is below ``max_aspect_ratio``. Its label, flag and mask go with it.

    Required Keys: img, gt_bboxes (optional: without it only the image moves),
    gt_bboxes_labels, gt_ignore_flags, gt_masks (optional, PolygonMasks), gt_seg_map
    (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_seg_map
    Added Keys: homography_matrix

    Args:
        max_rotate_degree, max_translate_ratio, scaling_ratio_range, max_shear_degree:
            ranges of the random parameters (see above).
        border: (w, h) pixels added to each side of the output canvas.
        border_val: BGR fill value.
        bbox_clip_border: clip boxes (and polygons) to the canvas.
        min_bbox_size: smallest kept width and height, in pixels.
        min_area_ratio: smallest kept area relative to the scaled original box.
        use_mask_refine: accepted for MMYOLO configs; polygon masks are always used.
        max_aspect_ratio: largest kept max(w / h, h / w).
        resample_num: points per polygon for the mask refinement.
    """

    def __init__(self, max_rotate_degree: float = 10.0, max_translate_ratio: float = 0.1,
                 scaling_ratio_range: Sequence[float] = (0.5, 1.5),
                 max_shear_degree: float = 2.0, border: Sequence[int] = (0, 0),
                 border_val: Sequence[int] = (114, 114, 114), bbox_clip_border: bool = True,
                 min_bbox_size: float = 2, min_area_ratio: float = 0.1,
                 use_mask_refine: bool = False, max_aspect_ratio: float = 20.0,
                 resample_num: int = 1000):
        owner = type(self).__name__
        if not 0 <= max_translate_ratio <= 1:
            raise ValueError(f"{owner}: max_translate_ratio must be in [0, 1], got "
                             f"{max_translate_ratio}")
        if not 0 < scaling_ratio_range[0] <= scaling_ratio_range[1]:
            raise ValueError(f"{owner}: scaling_ratio_range must be (min, max) with "
                             f"0 < min <= max, got {tuple(scaling_ratio_range)!r}")
        if resample_num < 2:
            raise ValueError(f"{owner}: resample_num must be >= 2, got {resample_num}")
        self.max_rotate_degree = max_rotate_degree
        self.max_translate_ratio = max_translate_ratio
        self.scaling_ratio_range = tuple(scaling_ratio_range)
        self.max_shear_degree = max_shear_degree
        self.border = tuple(border)
        self.border_val = tuple(border_val)
        self.bbox_clip_border = bbox_clip_border
        self.min_bbox_size = min_bbox_size
        self.min_area_ratio = min_area_ratio
        self.use_mask_refine = use_mask_refine
        self.max_aspect_ratio = max_aspect_ratio
        self.resample_num = resample_num

    def random_warp(self, img_h: int, img_w: int, height: int, width: int
                    ) -> tuple[np.ndarray, float]:
        """(3, 3) float32 warp of an ``img_h`` x ``img_w`` image onto a ``height`` x
        ``width`` canvas, and its scale."""
        rotation = rotation_matrix(np.random.uniform(-self.max_rotate_degree,
                                                     self.max_rotate_degree))
        scale = np.random.uniform(*self.scaling_ratio_range)
        shear = shear_matrix(np.random.uniform(-self.max_shear_degree, self.max_shear_degree),
                             np.random.uniform(-self.max_shear_degree, self.max_shear_degree))
        low, high = 0.5 - self.max_translate_ratio, 0.5 + self.max_translate_ratio
        place = translation_matrix(np.random.uniform(low, high) * width,
                                   np.random.uniform(low, high) * height)
        to_origin = translation_matrix(-img_w / 2, -img_h / 2)
        return place @ shear @ rotation @ scaling_matrix(scale) @ to_origin, scale

    def keep_mask(self, original, warped) -> np.ndarray:
        """(N,) bool: which warped boxes pass the size, area and aspect-ratio filters
        (``original`` already multiplied by the warp's scale)."""
        w, h = warped.widths.numpy(), warped.heights.numpy()
        original_area = (original.widths * original.heights).numpy()
        aspect = np.maximum(w / (h + 1e-16), h / (w + 1e-16))
        return ((w > self.min_bbox_size) & (h > self.min_bbox_size)
                & (w * h / (original_area + 1e-16) > self.min_area_ratio)
                & (aspect < self.max_aspect_ratio))

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        owner = type(self).__name__
        img = check_image(results, owner)
        masks = results.get("gt_masks")
        if masks is not None and not isinstance(masks, PolygonMasks):
            raise TypeError(f"{owner} needs gt_masks as PolygonMasks, got {type(masks).__name__}; "
                            f"load them with YOLOLoadAnnotations (poly2mask=False)")
        img_h, img_w = img.shape[:2]
        height, width = img_h + 2 * self.border[1], img_w + 2 * self.border[0]
        if height <= 0 or width <= 0:
            raise ValueError(f"{owner}: border {self.border} leaves no canvas of a "
                             f"{img_w}x{img_h} image")
        matrix, scale = self.random_warp(img_h, img_w, height, width)
        border_val = self.border_val if img.ndim == 3 else self.border_val[0]
        results["img"] = cv2.warpPerspective(img, matrix, dsize=(width, height),
                                             borderValue=border_val)
        results["img_shape"] = (height, width)
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = cv2.warpPerspective(
                results["gt_seg_map"], matrix, dsize=(width, height), flags=cv2.INTER_NEAREST,
                borderValue=255)
        record_homography(results, matrix)

        boxes = results.get("gt_bboxes")
        if boxes is None:
            return results
        original = boxes.clone()
        original.rescale_([scale, scale])
        if masks is not None and len(masks):
            points, polygon_owner = resample_polygons(masks, self.resample_num)
            flat = cv2.perspectiveTransform(points.reshape(1, -1, 2), matrix.astype(np.float64))
            points = flat.reshape(points.shape)
            boxes = type(boxes)(boxes_of_points_inside(points, polygon_owner, len(masks),
                                                       height, width))
            results["gt_bboxes"] = boxes
            if self.bbox_clip_border:
                np.clip(points, 0, [width, height], out=points)
            sizes = np.bincount(polygon_owner, minlength=len(masks))
            parts = list(points.reshape(len(points), -1))
            ends = np.cumsum(sizes)
            results["gt_masks"] = PolygonMasks(
                [parts[end - size:end] for size, end in zip(sizes, ends)], height, width)
        else:
            boxes.project_(matrix)
            if masks is not None:
                results["gt_masks"] = PolygonMasks([], height, width)
        if self.bbox_clip_border:
            boxes.clip_((height, width))
        keep_instances(results, self.keep_mask(original, boxes))
        return results
