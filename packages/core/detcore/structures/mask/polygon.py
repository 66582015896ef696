"""PolygonMasks: instance masks as COCO polygons (MMDetection 3.x behaviour).

Geometric operations move vertices exactly and never rasterise; ``to_ndarray`` /
``to_bitmap`` rasterise with pycocotools. Operations that can push vertices off the
canvas (translate, shear, rotate) clip the coordinates to it, as MMDetection does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from . import image_ops
from .base import (
    BaseInstanceMasks,
    check_flip_direction,
    crop_window,
    default_center,
    instance_indices,
    instance_positions,
)
from .bitmap import BitmapMasks
from .conversions import polygon_to_bitmap
from .polygon_geometry import (
    FlatPolygons,
    apply_affine,
    clip_to_box,
    instance_bounds,
    part_areas,
)


def _as_polygon_lists(masks) -> list[list[np.ndarray]]:
    """Validate the three-level list and make every polygon a 1-D float array."""
    if not isinstance(masks, (list, tuple)):
        raise TypeError(
            "PolygonMasks: masks must be a list (one entry per instance) of lists of flat "
            f"[x0, y0, x1, y1, ...] polygons, but got {type(masks).__name__}"
        )
    instances = []
    for i, instance in enumerate(masks):
        if not isinstance(instance, (list, tuple)):
            raise TypeError(
                f"PolygonMasks: instance {i} must be a list of polygons, got {type(instance).__name__}"
            )
        parts = []
        for j, part in enumerate(instance):
            part = np.asarray(part)
            if not np.issubdtype(part.dtype, np.floating):
                part = part.astype(np.float64)
            if part.ndim != 1 or len(part) < 6 or len(part) % 2:
                raise ValueError(
                    f"PolygonMasks: instance {i}, polygon {j} has shape {part.shape}; a polygon "
                    "is a flat array with an even number >= 6 of coordinates [x0, y0, x1, y1, ...]"
                )
            parts.append(part)
        instances.append(parts)
    return instances


class PolygonMasks(BaseInstanceMasks):
    """Instance masks as polygons: ``.masks[i]`` is instance i's list of flat (2K,) arrays.

    Args:
        masks: one list per instance of polygons [x0, y0, x1, y1, ...] (arrays or lists;
            ints become float64).
        height, width: image size the polygons live on.

    Example:
        >>> square = [[np.array([0, 0, 10, 0, 10, 10, 0, 10], dtype=np.float32)]]
        >>> PolygonMasks(square, 16, 16).translate((16, 16), 4).masks[0][0][0::2]
        array([ 4., 14., 14.,  4.], dtype=float32)
    """

    def __init__(self, masks, height: int, width: int):
        self.height, self.width = image_ops.check_shape((height, width), "(height, width)")
        self.masks = _as_polygon_lists(masks)

    def _rebuilt(self, flat: FlatPolygons, height: int | None = None, width: int | None = None):
        return PolygonMasks(
            flat.to_lists(),
            self.height if height is None else height,
            self.width if width is None else width,
        )

    def __getitem__(self, index) -> PolygonMasks:
        selection = instance_indices(index, len(self), "PolygonMasks")
        if isinstance(selection, slice):
            selected = self.masks[selection]
        else:
            selected = [self.masks[i] for i in selection]
        return PolygonMasks(selected, self.height, self.width)

    def rescale(self, scale, interpolation=None) -> PolygonMasks:
        """Same size rule as BitmapMasks.rescale; ``interpolation`` does not apply to polygons."""
        return self.resize(image_ops.rescaled_shape(self.height, self.width, scale))

    def resize(self, out_shape, interpolation=None) -> PolygonMasks:
        out_h, out_w = image_ops.check_shape(out_shape)
        flat = FlatPolygons.of(self.masks)
        scaled = flat.points * [out_w / self.width, out_h / self.height]
        return self._rebuilt(flat.with_points(scaled), out_h, out_w)

    def flip(self, flip_direction: str = "horizontal") -> PolygonMasks:
        check_flip_direction(flip_direction)
        flat = FlatPolygons.of(self.masks)
        points = flat.points.copy()
        if flip_direction in ("horizontal", "diagonal"):
            points[:, 0] = self.width - points[:, 0]
        if flip_direction in ("vertical", "diagonal"):
            points[:, 1] = self.height - points[:, 1]
        return self._rebuilt(flat.with_points(points))

    def pad(self, out_shape, pad_val: int = 0) -> PolygonMasks:
        """Padding at the bottom/right moves no vertex; only the canvas grows."""
        return PolygonMasks(self.masks, *image_ops.check_shape(out_shape))

    def crop(self, bbox) -> PolygonMasks:
        """Clip each polygon to the crop window and shift it to the window's origin.

        An instance with nothing left keeps one degenerate polygon of zeros, as in
        MMDetection, so instances stay aligned with their boxes and labels.
        """
        x1, y1, w, h = crop_window(bbox, self.height, self.width)
        flat = clip_to_box(FlatPolygons.of(self.masks), (x1, y1, x1 + w, y1 + h))
        shifted = self._rebuilt(flat.with_points(flat.points - [x1, y1]), h, w)
        dummy = np.zeros(6, dtype=flat.dtype)
        shifted.masks = [parts if parts else [dummy.copy()] for parts in shifted.masks]
        return shifted

    def crop_and_resize(
        self,
        bboxes,
        out_shape,
        inds,
        device="cpu",
        interpolation: str = "bilinear",
        binarize: bool = True,
    ) -> PolygonMasks:
        """Polygon of instance ``inds[k]`` in the frame of box ``bboxes[k]``, scaled to out_shape.

        Vertices outside the box are kept; rasterisation clips them. ``device`` and
        ``interpolation`` do not apply to polygons, which are always binary.
        """
        out_h, out_w = image_ops.check_shape(out_shape)
        if not binarize:
            raise ValueError("Polygons are always binary; binarize=False is not supported")
        boxes = np.asarray(
            bboxes.detach().cpu() if isinstance(bboxes, torch.Tensor) else bboxes, dtype=np.float64
        )
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"crop_and_resize: bboxes must be (K, 4) xyxy, got {boxes.shape}")
        if len(self) == 0 or len(boxes) == 0:
            return PolygonMasks([], out_h, out_w)
        selection = instance_positions(inds, len(self), "PolygonMasks.crop_and_resize inds")
        if len(selection) != len(boxes):
            raise ValueError(
                f"crop_and_resize: got {len(boxes)} bboxes but {len(selection)} inds; "
                "they pair up one to one"
            )
        flat = FlatPolygons.of([self.masks[i] for i in selection])
        sizes = np.maximum(boxes[:, 2:] - boxes[:, :2], 1.0)
        scales = np.array([out_w, out_h]) / sizes
        box_of_point = flat.instance_of_point
        points = (flat.points - boxes[box_of_point, :2]) * scales[box_of_point]
        return PolygonMasks(flat.with_points(points).to_lists(), out_h, out_w)

    def expand(self, expanded_h: int, expanded_w: int, top: int, left: int) -> PolygonMasks:
        if top < 0 or left < 0 or top + self.height > expanded_h or left + self.width > expanded_w:
            raise ValueError(
                f"expand: masks of ({self.height}, {self.width}) at top={top}, left={left} do "
                f"not fit in ({expanded_h}, {expanded_w})"
            )
        flat = FlatPolygons.of(self.masks)
        return self._rebuilt(flat.with_points(flat.points + [left, top]), expanded_h, expanded_w)

    def _warped(self, matrix, out_shape) -> PolygonMasks:
        """Vertices through the affine ``matrix``, clipped to the out_shape canvas.

        Both axes are clipped; MMDetection's translate clips only the moved one, which
        differs only for polygons that already reached outside the image.
        """
        out_h, out_w = image_ops.check_shape(out_shape)
        flat = FlatPolygons.of(self.masks)
        points = np.clip(apply_affine(flat.points, matrix), 0, [out_w, out_h])
        return self._rebuilt(flat.with_points(points), out_h, out_w)

    def translate(
        self, out_shape, offset, direction="horizontal", border_value=None, interpolation=None
    ) -> PolygonMasks:
        if border_value not in (None, 0):
            raise ValueError(
                f"PolygonMasks.translate: border_value must be None or 0 (polygons have no "
                f"background), got {border_value}"
            )
        return self._warped(image_ops.translation_matrix(offset, direction), out_shape)

    def shear(
        self, out_shape, magnitude, direction="horizontal", border_value=0, interpolation="bilinear"
    ) -> PolygonMasks:
        return self._warped(image_ops.shear_matrix(magnitude, direction), out_shape)

    def rotate(
        self,
        out_shape,
        angle,
        center=None,
        scale=1.0,
        border_value=0,
        interpolation="bilinear",
    ) -> PolygonMasks:
        center = default_center(self.height, self.width) if center is None else center
        return self._warped(image_ops.rotation_matrix(angle, center, scale), out_shape)

    def to_bitmap(self) -> BitmapMasks:
        """Rasterised copy as BitmapMasks (pycocotools)."""
        return BitmapMasks(self.to_ndarray(), self.height, self.width)

    @property
    def areas(self) -> np.ndarray:
        """(N,) float64 polygon areas by the shoelace formula, summed over each instance's parts.

        Overlapping parts are counted twice and holes are not subtracted (MMDetection's rule);
        the rasterised area (``to_bitmap().areas``) can differ along the outline.
        """
        flat = FlatPolygons.of(self.masks)
        return np.bincount(flat.instance_of_part, part_areas(flat), minlength=len(self))

    def to_ndarray(self) -> np.ndarray:
        """(N, H, W) uint8 rasterised masks."""
        bitmaps = np.zeros((len(self), self.height, self.width), dtype=np.uint8)
        for i, parts in enumerate(self.masks):
            bitmaps[i] = polygon_to_bitmap(parts, self.height, self.width)
        return bitmaps

    def to_tensor(self, dtype, device) -> torch.Tensor:
        return torch.tensor(self.to_ndarray(), dtype=dtype, device=device)

    def _enclosing_boxes(self) -> torch.Tensor:
        return torch.from_numpy(instance_bounds(FlatPolygons.of(self.masks)))

    @classmethod
    def _concatenate(cls, masks: Sequence[PolygonMasks]) -> PolygonMasks:
        first = masks[0]
        return cls([parts for m in masks for parts in m.masks], first.height, first.width)

    @classmethod
    def random(
        cls,
        num_masks: int = 3,
        height: int = 32,
        width: int = 32,
        n_verts: int = 5,
        dtype=np.float32,
        rng=None,
    ) -> PolygonMasks:
        """Random simple polygons (one part each) for demos and tests.

        Vertices sit at sorted angles and random radii around a centre, so every polygon
        is star-shaped and never self-intersects; all lie inside the canvas.
        ``rng`` is anything np.random.default_rng accepts.
        """
        rng = np.random.default_rng(rng)
        radius = rng.uniform(0.15, 0.45, (num_masks, 1)) * min(height, width)
        centre_x = rng.uniform(radius, width - radius)
        centre_y = rng.uniform(radius, height - radius)
        angles = np.sort(rng.uniform(0, 2 * np.pi, (num_masks, n_verts)), axis=1)
        radii = radius * rng.uniform(0.4, 1.0, (num_masks, n_verts))
        xy = np.stack([centre_x + radii * np.cos(angles), centre_y + radii * np.sin(angles)], -1)
        return cls([[vertices.ravel().astype(dtype)] for vertices in xy], height, width)
