"""Conversions between binary masks, COCO polygons and RLE, for writing annotation files.

Coordinates follow COCO: pixel (row r, column c) covers [c, c + 1) x [r, r + 1), so a
polygon around it runs along pixel corners. Polygons are flat lists [x0, y0, x1, y1, ...].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

#: Default tolerance (pixels) of the Douglas-Peucker simplification of mask contours:
#: small enough that pycocotools rasterises the polygon back to the same pixels.
SIMPLIFY_TOLERANCE = 0.3


def mask_to_polygons(mask: np.ndarray, tolerance: float = SIMPLIFY_TOLERANCE) -> list[list[float]]:
    """Polygons that rasterise (with pycocotools) back to the (H, W) binary ``mask``.

    One polygon per connected part; holes are cut in through a zero-width "keyhole"
    seam, because COCO polygons of one object are united and cannot express holes.
    Vertices lie on pixel corners, so the polygons' extent is the mask's box.
    """
    contours, hierarchy = cv2.findContours(_corner_grid(mask), cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    hierarchy = hierarchy[0]
    outlines = [_to_corner_coords(c, tolerance) for c in contours]
    polygons = []
    for i, (_, _, first_child, parent) in enumerate(hierarchy):
        if parent != -1 or len(outlines[i]) < 3:
            continue
        outline = outlines[i]
        child = first_child
        while child != -1:
            if len(outlines[child]) >= 3:
                outline = _splice(outline, outlines[child])
            child = hierarchy[child][0]
        polygons.append(outline.ravel().round(2).tolist())
    return polygons


def _corner_grid(mask: np.ndarray) -> np.ndarray:
    """The mask on a grid of half pixels, grown by one half pixel to the right and down.

    Pixel c then covers grid cells 2c..2c+2, so the contour that OpenCV traces through
    the centres of the boundary cells runs through grid points 2c and 2c + 2: halved,
    the left and right pixel corners c and c + 1 (and likewise for rows and holes).
    """
    grid = cv2.resize(np.ascontiguousarray(mask, dtype=np.uint8), None, fx=2, fy=2,
                      interpolation=cv2.INTER_NEAREST)
    grid = np.pad(grid, ((0, 1), (0, 1)))
    return cv2.dilate(grid, np.ones((2, 2), np.uint8), anchor=(1, 1))


def _to_corner_coords(contour: np.ndarray, tolerance: float) -> np.ndarray:
    """A contour of the half-pixel grid as (K, 2) float points in pixel-corner units."""
    if tolerance > 0:
        contour = cv2.approxPolyDP(contour, tolerance * 2, closed=True)
    return contour.reshape(-1, 2).astype(np.float64) / 2


def _splice(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Join ring ``inner`` into ring ``outer`` along the shortest vertex-to-vertex seam."""
    distances = ((outer[:, None, :] - inner[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(distances), distances.shape)
    return np.concatenate([outer[:i + 1], inner[j:], inner[:j + 1], outer[i:]])


def merge_polygons(polygons: Sequence[Sequence[float]]) -> list[float]:
    """One polygon for formats that allow only one per object (YOLO txt): the parts are
    chained by zero-width seams between their closest vertices."""
    rings = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons if len(p) >= 6]
    if not rings:
        return []
    merged = rings[0]
    for ring in rings[1:]:
        merged = _splice(merged, ring)
    return merged.ravel().round(2).tolist()


def instance_mask_to_bitmap(mask, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 mask of an instance's ``mask``: polygons or RLE (compressed or not)."""
    from pycocotools import mask as mask_utils

    if isinstance(mask, Mapping):
        rle = mask
        if isinstance(rle.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(dict(rle), *rle["size"])
        elif isinstance(rle.get("counts"), str):
            rle = dict(rle, counts=rle["counts"].encode())
        return mask_utils.decode(rle)
    polygons = [list(map(float, p)) for p in mask if len(p) >= 6]
    if not polygons:
        return np.zeros((height, width), dtype=np.uint8)
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, height, width)))


def mask_area(mask, height: int, width: int) -> int:
    """Pixel area of an instance's ``mask`` (polygons or RLE), as pycocotools counts it."""
    return int(instance_mask_to_bitmap(mask, height, width).sum())
