"""HorizontalBoxes: axis-aligned boxes, stored as (..., 4) xyxy pixels (width = x2 - x1).

Behaves like MMDetection 3.x's class of the same name and is registered as box type 'hbox'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base_boxes import BaseBoxes
from .bbox_overlaps import bbox_overlaps
from .box_type import register_box_type
from .transforms import (
    bbox_cxcywh_to_xyxy,
    bbox_flip,
    bbox_xywh_to_xyxy,
    bbox_xyxy_to_cxcywh,
    bbox_xyxy_to_xywh,
)

_FROM_MODE = {"xyxy": None, "xywh": bbox_xywh_to_xyxy, "cxcywh": bbox_cxcywh_to_xyxy}


@register_box_type("hbox")
class HorizontalBoxes(BaseBoxes):
    """Axis-aligned boxes of shape (..., 4), xyxy inside.

    Args:
        data: boxes (Tensor, ndarray or nested sequence) of shape (..., 4).
        dtype, device, clone: as in :class:`BaseBoxes`.
        in_mode: layout of ``data``: ``'xyxy'`` (default), ``'xywh'`` (COCO) or ``'cxcywh'``.

    Examples:
        >>> boxes = HorizontalBoxes([[10, 20, 30, 60]], in_mode='xywh')
        >>> boxes.tensor, boxes.areas
        (tensor([[10., 20., 40., 80.]]), tensor([1800.]))
    """

    box_dim = 4

    def __init__(
        self,
        data: Tensor | np.ndarray | Sequence,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        clone: bool = True,
        in_mode: str | None = None,
    ) -> None:
        super().__init__(data=data, dtype=dtype, device=device, clone=clone)
        if in_mode is not None:
            if in_mode not in _FROM_MODE:
                raise ValueError(f"in_mode must be one of {tuple(_FROM_MODE)}, but got {in_mode!r}")
            to_xyxy = _FROM_MODE[in_mode]
            if to_xyxy is not None:
                self.tensor = to_xyxy(self.tensor)

    cxcywh_to_xyxy = staticmethod(bbox_cxcywh_to_xyxy)
    xyxy_to_cxcywh = staticmethod(bbox_xyxy_to_cxcywh)

    @property
    def cxcywh(self) -> Tensor:
        """(..., 4) (centre x, centre y, width, height)."""
        return bbox_xyxy_to_cxcywh(self.tensor)

    @property
    def xywh(self) -> Tensor:
        """(..., 4) (x1, y1, width, height), the COCO layout."""
        return bbox_xyxy_to_xywh(self.tensor)

    @property
    def centers(self) -> Tensor:
        return (self.tensor[..., :2] + self.tensor[..., 2:]) / 2

    @property
    def areas(self) -> Tensor:
        return self.widths * self.heights

    @property
    def widths(self) -> Tensor:
        return self.tensor[..., 2] - self.tensor[..., 0]

    @property
    def heights(self) -> Tensor:
        return self.tensor[..., 3] - self.tensor[..., 1]

    # ------------------------------------------------------------------ in-place geometry
    def flip_(self, img_shape: Sequence[int], direction: str = "horizontal") -> None:
        self.tensor = bbox_flip(self.tensor, img_shape, direction)

    def translate_(self, distances: Sequence[float]) -> None:
        if len(distances) != 2:
            raise ValueError(f"distances must be (dx, dy), but got {distances!r}")
        self.tensor = self.tensor + self.tensor.new_tensor(distances).repeat(2)

    def clip_(self, img_shape: Sequence[int]) -> None:
        height, width = img_shape[:2]
        upper = self.tensor.new_tensor([width, height, width, height])
        self.tensor = torch.minimum(self.tensor.clamp(min=0), upper)

    def rotate_(self, center: Sequence[float], angle: float) -> None:
        """Rotate the corners about ``center`` (x, y) by ``angle`` degrees and take their bounds.

        Positive angles turn clockwise on screen (y points down), as in MMDetection.
        """
        theta = math.radians(angle)
        cos, sin = math.cos(theta), math.sin(theta)
        cx, cy = center
        rotation = [
            [cos, -sin, cx - cos * cx + sin * cy],
            [sin, cos, cy - sin * cx - cos * cy],
            [0.0, 0.0, 1.0],
        ]
        self.project_(rotation)

    def project_(self, homography_matrix: Tensor | np.ndarray | Sequence) -> None:
        """Map the four corners of each box by the 3x3 homography and take their bounds."""
        matrix = torch.as_tensor(
            homography_matrix, dtype=self.tensor.dtype, device=self.tensor.device
        )
        if matrix.shape != (3, 3):
            raise ValueError(
                f"homography_matrix must have shape (3, 3), but got {tuple(matrix.shape)}"
            )
        corners = self.hbox2corner(self.tensor)  # (..., 4, 2)
        homogeneous = torch.cat([corners, corners.new_ones(*corners.shape[:-1], 1)], dim=-1)
        projected = homogeneous @ matrix.T
        self.tensor = self.corner2hbox(projected[..., :2] / projected[..., 2:3])

    @staticmethod
    def hbox2corner(boxes: Tensor) -> Tensor:
        """(..., 4) xyxy -> (..., 4, 2) corners: top-left, top-right, bottom-left, bottom-right."""
        x1, y1, x2, y2 = boxes.unbind(dim=-1)
        corners = torch.stack([x1, y1, x2, y1, x1, y2, x2, y2], dim=-1)
        return corners.reshape(*boxes.shape[:-1], 4, 2)

    @staticmethod
    def corner2hbox(corners: Tensor) -> Tensor:
        """(..., K, 2) points -> (..., 4) xyxy box enclosing each group of K points."""
        return torch.cat([corners.amin(dim=-2), corners.amax(dim=-2)], dim=-1)

    def rescale_(self, scale_factor: Sequence[float]) -> None:
        if len(scale_factor) != 2:
            raise ValueError(f"scale_factor must be (w_scale, h_scale), but got {scale_factor!r}")
        self.tensor = self.tensor * self.tensor.new_tensor(scale_factor).repeat(2)

    def resize_(self, scale_factor: Sequence[float]) -> None:
        if len(scale_factor) != 2:
            raise ValueError(f"scale_factor must be (w_scale, h_scale), but got {scale_factor!r}")
        centers = self.centers
        half_sizes = (
            (self.tensor[..., 2:] - self.tensor[..., :2]) * self.tensor.new_tensor(scale_factor) / 2
        )
        self.tensor = torch.cat([centers - half_sizes, centers + half_sizes], dim=-1)

    # ------------------------------------------------------------------ queries
    def is_inside(
        self, img_shape: Sequence[int], all_inside: bool = False, allowed_border: int = 0
    ) -> Tensor:
        """(...,) BoolTensor.

        ``all_inside=False``: the box overlaps the image. ``all_inside=True``: the box lies
        within the image grown by ``allowed_border`` pixels (as anchors are filtered).
        """
        height, width = img_shape[:2]
        x1, y1, x2, y2 = self.tensor.unbind(dim=-1)
        if all_inside:
            return (
                (x1 >= -allowed_border)
                & (y1 >= -allowed_border)
                & (x2 < width + allowed_border)
                & (y2 < height + allowed_border)
            )
        return (x1 < width) & (y1 < height) & (x2 > 0) & (y2 > 0)

    def find_inside_points(self, points: Tensor, is_aligned: bool = False) -> Tensor:
        """Which (M, 2) points lie inside which boxes, borders included.

        Returns (M, N) for N boxes, or (M,) with ``is_aligned`` (point i against box i).
        """
        boxes = self.tensor
        if boxes.dim() != 2:
            raise ValueError(f"find_inside_points needs (N, 4) boxes, but got {tuple(boxes.shape)}")
        if is_aligned:
            if points.size(0) != boxes.size(0):
                raise ValueError(
                    f"is_aligned=True needs as many points as boxes, but got "
                    f"{points.size(0)} and {boxes.size(0)}"
                )
        else:
            boxes, points = boxes[None, :, :], points[:, None, :]
        x1, y1, x2, y2 = boxes.unbind(dim=-1)
        x, y = points[..., 0], points[..., 1]
        return (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)

    @staticmethod
    def overlaps(
        boxes1: BaseBoxes,
        boxes2: BaseBoxes,
        mode: str = "iou",
        is_aligned: bool = False,
        eps: float = 1e-6,
    ) -> Tensor:
        """:func:`bbox_overlaps` of two box objects (converted to 'hbox' first)."""
        boxes1 = boxes1.convert_to("hbox")
        boxes2 = boxes2.convert_to("hbox")
        return bbox_overlaps(
            boxes1.tensor, boxes2.tensor, mode=mode, is_aligned=is_aligned, eps=eps
        )

    @staticmethod
    def from_instance_masks(masks: Any) -> HorizontalBoxes:
        """(N, 4) boxes enclosing N instance masks; an empty mask gives (0, 0, 0, 0).

        ``masks`` may be BitmapMasks-like (``.masks`` of shape (N, H, W)), PolygonMasks-like
        (``.masks`` a list with, per instance, a list of flat [x0, y0, x1, y1, ...]
        polygons) or an (N, H, W) ndarray/Tensor. For bitmaps x2 = last column + 1, so a
        one-pixel mask has width 1; for polygons the bounds of the vertices are used.
        """
        data = masks if isinstance(masks, (np.ndarray, Tensor)) else getattr(masks, "masks", None)
        if isinstance(data, (np.ndarray, Tensor)):
            return HorizontalBoxes(_bitmap_bounds(torch.as_tensor(data)), clone=False)
        if isinstance(data, list):
            return HorizontalBoxes(_polygon_bounds(data), clone=False)
        raise TypeError(
            "masks must be BitmapMasks, PolygonMasks or an (N, H, W) array, "
            f"but got {type(masks).__name__}"
        )


def _bitmap_bounds(masks: Tensor) -> Tensor:
    """(N, H, W) masks -> (N, 4) float32 xyxy bounds with exclusive x2/y2; zeros for empty masks."""
    if masks.dim() != 3:
        raise ValueError(f"bitmap masks must have shape (N, H, W), but got {tuple(masks.shape)}")
    masks = masks.bool()
    if masks.numel() == 0:
        return torch.zeros(masks.size(0), 4, device=masks.device)
    x1, x2 = _first_and_last(masks.any(dim=1))
    y1, y2 = _first_and_last(masks.any(dim=2))
    boxes = torch.stack([x1, y1, x2 + 1, y2 + 1], dim=-1).float()
    has_pixels = masks.flatten(1).any(dim=1)
    return torch.where(has_pixels[:, None], boxes, torch.zeros_like(boxes))


def _first_and_last(occupied: Tensor) -> tuple[Tensor, Tensor]:
    """First and last True position of each row of an (N, L) BoolTensor."""
    positions = torch.arange(occupied.size(1), device=occupied.device)
    first = torch.where(occupied, positions, occupied.size(1)).amin(dim=1)
    last = torch.where(occupied, positions, -1).amax(dim=1)
    return first, last


def _polygon_bounds(polygons_per_instance: list) -> Tensor:
    """Per-instance lists of flat polygons -> (N, 4) float32 bounds of their vertices."""
    boxes = torch.zeros(len(polygons_per_instance), 4)
    vertices, owners = [], []
    for index, polygons in enumerate(polygons_per_instance):
        for polygon in polygons:
            points = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
            vertices.append(points)
            owners.append(np.full(len(points), index))
    if not vertices:
        return boxes
    points = torch.from_numpy(np.concatenate(vertices))
    owner = torch.from_numpy(np.concatenate(owners))[:, None].expand(-1, 2)
    boxes[:, :2] = torch.full_like(boxes[:, :2], math.inf).scatter_reduce(0, owner, points, "amin")
    boxes[:, 2:] = torch.full_like(boxes[:, 2:], -math.inf).scatter_reduce(0, owner, points, "amax")
    return torch.where(boxes.isfinite(), boxes, torch.zeros_like(boxes))
