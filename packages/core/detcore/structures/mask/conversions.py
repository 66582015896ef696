"""Polygon <-> bitmap conversion for one instance (pycocotools and OpenCV, as MMDetection)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pycocotools.mask as mask_utils


def polygon_to_bitmap(polygons: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise one instance's polygons (flat [x0, y0, x1, y1, ...] each) to an (H, W) bool mask.

    The parts are merged (union) the way COCO rasterises segmentation polygons; an
    instance without polygons gives an all-False mask.
    """
    if len(polygons) == 0:
        return np.zeros((height, width), dtype=bool)
    parts = [np.asarray(p, dtype=np.float64).ravel() for p in polygons]
    for position, part in enumerate(parts):
        if len(part) < 6 or len(part) % 2:
            raise ValueError(
                f"polygon_to_bitmap: polygon {position} has {len(part)} coordinates; a polygon "
                "needs an even number >= 6 ([x0, y0, x1, y1, x2, y2, ...])"
            )
    rles = mask_utils.frPyObjects(parts, height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def bitmap_to_polygon(bitmap: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """Trace an (H, W) mask's outlines with cv2.findContours (RETR_CCOMP, CHAIN_APPROX_NONE).

    Returns the contours as (K, 2) int arrays of (x, y) pixel positions (outer boundaries
    and hole boundaries alike) and whether the mask has a hole.
    """
    bitmap = np.ascontiguousarray(bitmap).astype(np.uint8)
    if bitmap.ndim != 2:
        raise ValueError(f"bitmap_to_polygon: bitmap must be (H, W), got shape {bitmap.shape}")
    contours, hierarchy = cv2.findContours(bitmap, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)[-2:]
    if hierarchy is None:
        return [], False
    # hierarchy rows are (next, previous, first child, parent); holes have a parent.
    with_hole = bool((hierarchy.reshape(-1, 4)[:, 3] >= 0).any())
    return [contour.reshape(-1, 2) for contour in contours], with_hole
