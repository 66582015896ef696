"""Points (cell centres) on multi-level feature grids, the priors of anchor-free heads
(FCOS, ATSS-free variants, YOLOX, RTMDet ...).

A level's points are ((x + offset) * stride_w, (y + offset) * stride_h) for every cell,
row by row; ``with_stride`` appends (stride_w, stride_h) to each point.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.modules.utils import _pair

from .utils import DeviceType, grid_valid_flags, valid_feature_size


class MlvlPointGenerator:
    """Multi-level point generator.

    Args:
        strides: per-level stride, an int or (w, h).
        offset: point offset within a cell, in units of the stride (0.5 = cell centre).
    """

    def __init__(self, strides: Sequence[int | tuple[int, int]], offset: float = 0.5) -> None:
        self.strides = [_pair(stride) for stride in strides]
        self.offset = offset

    @property
    def num_levels(self) -> int:
        """Number of feature levels."""
        return len(self.strides)

    @property
    def num_base_priors(self) -> list[int]:
        """One point per cell on every level."""
        return [1] * self.num_levels

    def grid_priors(self, featmap_sizes: Sequence[tuple[int, int]],
                    dtype: torch.dtype = torch.float32, device: DeviceType = "cuda",
                    with_stride: bool = False) -> list[Tensor]:
        """Points of every level: (h * w, 2) (x, y), or (h * w, 4) (x, y, stride_w, stride_h)
        with ``with_stride``."""
        self._check_num_levels(featmap_sizes)
        return [self.single_level_grid_priors(size, level, dtype=dtype, device=device,
                                              with_stride=with_stride)
                for level, size in enumerate(featmap_sizes)]

    def single_level_grid_priors(self, featmap_size: tuple[int, int], level_idx: int,
                                 dtype: torch.dtype = torch.float32, device: DeviceType = "cuda",
                                 with_stride: bool = False) -> Tensor:
        """Points of one (h, w) level; see :meth:`grid_priors`."""
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        shift_x = ((torch.arange(0, feat_w, device=device) + self.offset) * stride_w).to(dtype)
        shift_y = ((torch.arange(0, feat_h, device=device) + self.offset) * stride_h).to(dtype)
        shift_yy, shift_xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
        columns = [shift_xx.reshape(-1), shift_yy.reshape(-1)]
        if with_stride:
            num_points = feat_h * feat_w
            columns += [shift_x.new_full((num_points,), stride_w).to(dtype),
                        shift_x.new_full((num_points,), stride_h).to(dtype)]
        return torch.stack(columns, dim=-1)

    def valid_flags(self, featmap_sizes: Sequence[tuple[int, int]], pad_shape: Sequence[int],
                    device: DeviceType = "cuda") -> list[Tensor]:
        """Per level, (h * w,) flags of the points whose cell lies on the image
        (``pad_shape`` (h, w)) rather than on batch padding."""
        self._check_num_levels(featmap_sizes)
        return [self.single_level_valid_flags(
                    size, valid_feature_size(pad_shape, self.strides[level], size), device=device)
                for level, size in enumerate(featmap_sizes)]

    def single_level_valid_flags(self, featmap_size: tuple[int, int],
                                 valid_size: tuple[int, int], device: DeviceType = "cuda") -> Tensor:
        """(h * w,) flags of the points in the top-left ``valid_size`` of the grid."""
        return grid_valid_flags(featmap_size, valid_size, 1, device)

    def sparse_priors(self, prior_idxs: Tensor, featmap_size: tuple[int, int], level_idx: int,
                      dtype: torch.dtype = torch.float32, device: DeviceType = "cuda") -> Tensor:
        """(len(prior_idxs), 2) points of the given indices of one level's grid."""
        height, width = featmap_size
        x = (prior_idxs % width + self.offset) * self.strides[level_idx][0]
        y = (prior_idxs // width % height + self.offset) * self.strides[level_idx][1]
        return torch.stack([x, y], 1).to(dtype).to(device)

    def _check_num_levels(self, featmap_sizes: Sequence) -> None:
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(f"{type(self).__name__} has {self.num_levels} levels, but got "
                             f"{len(featmap_sizes)} feature map sizes")
