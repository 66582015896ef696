"""Which priors lie on the image: grid cells not on batch padding, anchors within a border."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.structures import BaseBoxes

DeviceType = str | torch.device


def grid_valid_flags(featmap_size: Sequence[int], valid_size: Sequence[int], repeats: int,
                     device: DeviceType) -> Tensor:
    """(h * w * repeats,) flags of the cells within the top-left ``valid_size`` of the grid."""
    feat_h, feat_w = featmap_size
    valid_h, valid_w = valid_size
    if valid_h > feat_h or valid_w > feat_w:
        raise ValueError(f"valid size {tuple(valid_size)} exceeds the feature map size "
                         f"{tuple(featmap_size)}")
    valid_x = torch.arange(feat_w, device=device) < valid_w
    valid_y = torch.arange(feat_h, device=device) < valid_h
    valid = (valid_y[:, None] & valid_x[None, :]).reshape(-1)
    return valid[:, None].expand(-1, repeats).reshape(-1)


def valid_feature_size(pad_shape: Sequence[int], stride: tuple[int, int],
                       featmap_size: Sequence[int]) -> tuple[int, int]:
    """The part of a feature map that covers the padded image (not the batch padding)."""
    h, w = pad_shape[:2]
    feat_h, feat_w = featmap_size
    return min(math.ceil(h / stride[1]), feat_h), min(math.ceil(w / stride[0]), feat_w)


def anchor_inside_flags(flat_anchors: Tensor | BaseBoxes, valid_flags: Tensor,
                        img_shape: Sequence[int], allowed_border: int = 0) -> Tensor:
    """(N,) flags: ``valid_flags`` and the (N, 4) anchor lies within the (h, w) image grown by
    ``allowed_border`` pixels. A negative ``allowed_border`` keeps every valid anchor."""
    if allowed_border < 0:
        return valid_flags
    img_h, img_w = img_shape[:2]
    if isinstance(flat_anchors, BaseBoxes):
        return valid_flags & flat_anchors.is_inside([img_h, img_w], all_inside=True,
                                                    allowed_border=allowed_border)
    return (valid_flags
            & (flat_anchors[:, 0] >= -allowed_border)
            & (flat_anchors[:, 1] >= -allowed_border)
            & (flat_anchors[:, 2] < img_w + allowed_border)
            & (flat_anchors[:, 3] < img_h + allowed_border))
