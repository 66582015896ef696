"""Plain-tensor box helpers that detectors and heads call (MMDetection's ``bbox`` transforms).

Boxes are xyxy pixels with no +1: width = x2 - x1. Where a helper says "tensor or boxes",
it accepts a (..., 4) Tensor or a BaseBoxes object.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base_boxes import BaseBoxes

FLIP_DIRECTIONS = ("horizontal", "vertical", "diagonal")


def bbox_xyxy_to_cxcywh(bbox: Tensor) -> Tensor:
    """(..., 4) xyxy -> (..., 4) (centre x, centre y, width, height)."""
    xy1, xy2 = bbox.split(2, dim=-1)
    return torch.cat([(xy1 + xy2) / 2, xy2 - xy1], dim=-1)


def bbox_cxcywh_to_xyxy(bbox: Tensor) -> Tensor:
    """(..., 4) (centre x, centre y, width, height) -> (..., 4) xyxy."""
    centers, sizes = bbox.split(2, dim=-1)
    return torch.cat([centers - sizes / 2, centers + sizes / 2], dim=-1)


def bbox_xyxy_to_xywh(bbox: Tensor) -> Tensor:
    """(..., 4) xyxy -> (..., 4) (x1, y1, width, height), the COCO layout."""
    xy1, xy2 = bbox.split(2, dim=-1)
    return torch.cat([xy1, xy2 - xy1], dim=-1)


def bbox_xywh_to_xyxy(bbox: Tensor) -> Tensor:
    """(..., 4) (x1, y1, width, height) -> (..., 4) xyxy."""
    xy1, sizes = bbox.split(2, dim=-1)
    return torch.cat([xy1, xy1 + sizes], dim=-1)


def bbox_flip(bboxes: Tensor, img_shape: Sequence[int], direction: str = "horizontal") -> Tensor:
    """Flipped copy of (..., 4k) xyxy boxes inside an image of ``img_shape`` (h, w, ...)."""
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f"flip direction must be one of {FLIP_DIRECTIONS}, but got {direction!r}")
    if bboxes.size(-1) % 4 != 0:
        raise ValueError(f"bboxes must have shape (..., 4k), but got {tuple(bboxes.shape)}")
    height, width = img_shape[:2]
    flipped = bboxes.clone()
    if direction in ("horizontal", "diagonal"):
        flipped[..., 0::4] = width - bboxes[..., 2::4]
        flipped[..., 2::4] = width - bboxes[..., 0::4]
    if direction in ("vertical", "diagonal"):
        flipped[..., 1::4] = height - bboxes[..., 3::4]
        flipped[..., 3::4] = height - bboxes[..., 1::4]
    return flipped


def _coordinate_scales(boxes: Tensor, scale_factor: float | Sequence[float] | Tensor) -> Tensor:
    """``scale_factor`` (a number, (w, h) or (w, h, w, h)) broadcast over (..., 2k) coordinates."""
    scales = torch.as_tensor(scale_factor, dtype=boxes.dtype, device=boxes.device).flatten()
    if scales.numel() == 1:
        return scales
    if scales.numel() not in (2, 4) or boxes.size(-1) % scales.numel() != 0:
        raise ValueError(
            "scale_factor must be a number, (w_scale, h_scale) or (w, h, w, h), but got "
            f"{scales.numel()} values for boxes of shape {tuple(boxes.shape)}"
        )
    return scales.repeat(boxes.size(-1) // scales.numel())


def bbox_mapping(
    bboxes: Tensor,
    img_shape: Sequence[int],
    scale_factor: float | Sequence[float],
    flip: bool,
    flip_direction: str = "horizontal",
) -> Tensor:
    """Map boxes from the original image to a resized (and possibly flipped) test image.

    ``img_shape`` (h, w) is the shape of the test image; ``scale_factor`` is (w_scale, h_scale).
    """
    mapped = bboxes * _coordinate_scales(bboxes, scale_factor)
    return bbox_flip(mapped, img_shape, flip_direction) if flip else mapped


def bbox_mapping_back(
    bboxes: Tensor,
    img_shape: Sequence[int],
    scale_factor: float | Sequence[float],
    flip: bool,
    flip_direction: str = "horizontal",
) -> Tensor:
    """Inverse of :func:`bbox_mapping`: from the test image back to the original image."""
    unflipped = bbox_flip(bboxes, img_shape, flip_direction) if flip else bboxes
    return unflipped / _coordinate_scales(unflipped, scale_factor)


def scale_boxes(boxes: Tensor | BaseBoxes, scale_factor: Sequence[float]) -> Tensor | BaseBoxes:
    """Scale coordinates by ``scale_factor`` (w_scale, h_scale); box objects are scaled in place."""
    if isinstance(boxes, BaseBoxes):
        boxes.rescale_(scale_factor)
        return boxes
    return boxes * _coordinate_scales(boxes, scale_factor)


def bbox_rescale(bboxes: Tensor, scale_factor: float = 1.0) -> Tensor:
    """Scale (n, 4) boxes, or (n, 5) rois (batch index first), about their centres."""
    if bboxes.size(-1) not in (4, 5):
        raise ValueError(f"bboxes must have shape (n, 4) or (n, 5), but got {tuple(bboxes.shape)}")
    coordinates = bboxes[..., -4:]
    centers = (coordinates[..., :2] + coordinates[..., 2:]) / 2
    half_sizes = (coordinates[..., 2:] - coordinates[..., :2]) * (scale_factor / 2)
    rescaled = torch.cat([centers - half_sizes, centers + half_sizes], dim=-1)
    if bboxes.size(-1) == 5:
        rescaled = torch.cat([bboxes[..., :1], rescaled], dim=-1)
    return rescaled


def get_box_tensor(boxes: Tensor | BaseBoxes) -> Tensor:
    """The coordinate tensor of boxes given as a Tensor or a box object."""
    return boxes.tensor if isinstance(boxes, BaseBoxes) else boxes


def empty_box_as(boxes: Tensor | BaseBoxes) -> Tensor | BaseBoxes:
    """Zero boxes of the same kind, dtype and device: (0, box_dim) boxes or a (0, 4) tensor."""
    if isinstance(boxes, BaseBoxes):
        return boxes.empty_boxes()
    return boxes.new_zeros(0, 4)


def get_box_wh(boxes: Tensor | BaseBoxes) -> tuple[Tensor, Tensor]:
    """(widths, heights), each (...,)."""
    if isinstance(boxes, BaseBoxes):
        return boxes.widths, boxes.heights
    return boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]


def cat_boxes(data_list: Sequence[Tensor | BaseBoxes], dim: int = 0) -> Tensor | BaseBoxes:
    """Concatenate a list of box tensors or box objects (all of one kind)."""
    if isinstance(data_list[0], BaseBoxes):
        return type(data_list[0]).cat(data_list, dim=dim)
    return torch.cat(list(data_list), dim=dim)


def stack_boxes(data_list: Sequence[Tensor | BaseBoxes], dim: int = 0) -> Tensor | BaseBoxes:
    """Stack a list of box tensors or box objects (all of one kind)."""
    if isinstance(data_list[0], BaseBoxes):
        return type(data_list[0]).stack(data_list, dim=dim)
    return torch.stack(list(data_list), dim=dim)


def bbox2roi(bbox_list: Sequence[Tensor | BaseBoxes]) -> Tensor:
    """Per-image boxes -> (n, 1 + box_dim) rois whose first column is the image index."""
    if len(bbox_list) == 0:
        raise ValueError("bbox2roi needs the boxes of at least one image, but got an empty list")
    boxes = [get_box_tensor(b) for b in bbox_list]
    image_indices = torch.cat([b.new_full((b.size(0), 1), index) for index, b in enumerate(boxes)])
    return torch.cat([image_indices, torch.cat(boxes)], dim=1)


def roi2bbox(rois: Tensor) -> list[Tensor]:
    """(n, 5) rois -> one (k, 4) box tensor per image index present in ``rois``, sorted by index."""
    image_ids = torch.unique(rois[:, 0].cpu(), sorted=True)
    return [rois[rois[:, 0] == image_id.item(), 1:] for image_id in image_ids]


def bbox2distance(
    points: Tensor, bbox: Tensor, max_dis: float | None = None, eps: float = 0.1
) -> Tensor:
    """(..., 4) distances (left, top, right, bottom) from (..., 2) points to (..., 4) xyxy boxes.

    With ``max_dis`` the distances are clamped to [0, max_dis - eps] (regression targets of
    distribution-based heads such as GFL).
    """
    distances = torch.cat([points - bbox[..., :2], bbox[..., 2:] - points], dim=-1)
    if max_dis is not None:
        distances = distances.clamp(min=0, max=max_dis - eps)
    return distances


def distance2bbox(
    points: Tensor,
    distance: Tensor,
    max_shape: Sequence[int] | Sequence[Sequence[int]] | Tensor | None = None,
) -> Tensor:
    """(..., 4) xyxy boxes from (..., 2) points and (..., 4) (left, top, right, bottom) distances.

    ``max_shape`` clips the boxes: one (h, w) for all, or one (h, w) per image, shaped
    (B, 2), for boxes of shape (B, N, 4).
    """
    bboxes = torch.cat([points - distance[..., :2], points + distance[..., 2:]], dim=-1)
    if max_shape is None:
        return bboxes
    limits = torch.as_tensor(max_shape, dtype=bboxes.dtype, device=bboxes.device)[..., :2]
    widths_heights = limits.flip(-1)
    upper = torch.cat([widths_heights, widths_heights], dim=-1)  # (w, h, w, h)
    if limits.dim() == 2:
        if bboxes.dim() != 3 or bboxes.size(0) != limits.size(0):
            raise ValueError(
                f"per-image max_shape of shape {tuple(limits.shape)} needs boxes of shape "
                f"({limits.size(0)}, N, 4), but got {tuple(bboxes.shape)}"
            )
        upper = upper[:, None, :]
    return torch.minimum(bboxes.clamp(min=0), upper)
