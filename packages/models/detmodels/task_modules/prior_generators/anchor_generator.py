"""Anchor boxes on multi-level feature grids, exactly as MMDetection 3.x places them.

A level's *base anchors* are the boxes around one grid cell (one per scale x ratio, centred
on ``center_offset`` times the base size, or on ``centers[level]``); the anchors of a
(h, w) feature map are those base anchors shifted by every cell's (x * stride_w,
y * stride_h). They are ordered row by row, then cell by cell, then base anchor by base
anchor: index = (y * w + x) * num_base_anchors + a.

Example (MMDetection's documented one):
    >>> gen = AnchorGenerator([16], [1.], [1.], [9])
    >>> gen.grid_priors([(2, 2)], device='cpu')
    [tensor([[-4.5000, -4.5000,  4.5000,  4.5000],
            [11.5000, -4.5000, 20.5000,  4.5000],
            [-4.5000, 11.5000,  4.5000, 20.5000],
            [11.5000, 11.5000, 20.5000, 20.5000]])]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn.modules.utils import _pair

from detcore.structures import HorizontalBoxes

from .utils import DeviceType, grid_valid_flags, valid_feature_size


class AnchorGenerator:
    """Standard anchor generator of anchor-based detectors.

    Args:
        strides: per-level stride, an int or (w, h).
        ratios: height / width ratios of the anchors.
        scales: anchor scales (multiples of the base size); or give ``octave_base_scale``
            and ``scales_per_octave`` (scales octave_base_scale * 2 ** (i / scales_per_octave)).
        base_sizes: per-level base size; defaults to the (shorter) stride.
        scale_major: order the base anchors scale-major within a ratio (ratio-major loop
            outside) when True, as MMDetection 2+ does.
        centers: per-level (x, y) centre of the base anchors in a cell; exclusive with a
            non-zero ``center_offset``.
        center_offset: base anchor centre as a fraction of the base size (0 in MMDetection 2+).
        use_box_type: return HorizontalBoxes instead of tensors.
    """

    def __init__(self, strides: Sequence[int | tuple[int, int]], ratios: Sequence[float],
                 scales: Sequence[float] | None = None, base_sizes: Sequence[int] | None = None,
                 scale_major: bool = True, octave_base_scale: float | None = None,
                 scales_per_octave: int | None = None,
                 centers: Sequence[tuple[float, float]] | None = None,
                 center_offset: float = 0.0, use_box_type: bool = False) -> None:
        if center_offset != 0 and centers is not None:
            raise ValueError(f"centers cannot be given when center_offset != 0, but got "
                             f"centers={centers} and center_offset={center_offset}")
        if not 0 <= center_offset <= 1:
            raise ValueError(f"center_offset must be in [0, 1], but got {center_offset}")
        if centers is not None and len(centers) != len(strides):
            raise ValueError(f"need one center per stride, but got {len(centers)} centers for "
                             f"{len(strides)} strides")
        self.strides = [_pair(stride) for stride in strides]
        self.base_sizes = ([min(stride) for stride in self.strides] if base_sizes is None
                           else list(base_sizes))
        if len(self.base_sizes) != len(self.strides):
            raise ValueError(f"need one base size per stride, but got base_sizes="
                             f"{self.base_sizes} for strides={self.strides}")
        has_octave = octave_base_scale is not None and scales_per_octave is not None
        if has_octave == (scales is not None):
            raise ValueError("give either scales or both octave_base_scale and "
                             "scales_per_octave, not both and not neither")
        if scales is None:
            octave_scales = np.array([2 ** (i / scales_per_octave) for i in range(scales_per_octave)])
            scales = octave_scales * octave_base_scale
        self.scales = torch.Tensor(scales)
        self.octave_base_scale = octave_base_scale
        self.scales_per_octave = scales_per_octave
        self.ratios = torch.Tensor(ratios)
        self.scale_major = scale_major
        self.centers = centers
        self.center_offset = center_offset
        self.base_anchors = self.gen_base_anchors()
        self.use_box_type = use_box_type

    # ------------------------------------------------------------------ counts
    @property
    def num_levels(self) -> int:
        """Number of feature levels."""
        return len(self.strides)

    @property
    def num_base_priors(self) -> list[int]:
        """Anchors per grid cell, per level."""
        return [anchors.size(0) for anchors in self.base_anchors]

    @property
    def num_base_anchors(self) -> list[int]:
        """Alias of :attr:`num_base_priors`."""
        return self.num_base_priors

    # ------------------------------------------------------------------ base anchors
    def gen_base_anchors(self) -> list[Tensor]:
        """(num_base_anchors, 4) base anchors of each level."""
        return [self.gen_single_level_base_anchors(
                    base_size, scales=self.scales, ratios=self.ratios,
                    center=None if self.centers is None else self.centers[level])
                for level, base_size in enumerate(self.base_sizes)]

    def gen_single_level_base_anchors(self, base_size: float, scales: Tensor, ratios: Tensor,
                                      center: tuple[float, float] | None = None) -> Tensor:
        """(len(ratios) * len(scales), 4) anchors of area (base_size * scale) ** 2 and
        height / width = ratio around ``center``."""
        if center is None:
            x_center = y_center = self.center_offset * base_size
        else:
            x_center, y_center = center
        h_ratios = torch.sqrt(ratios)
        w_ratios = 1 / h_ratios
        if self.scale_major:
            ws = (base_size * w_ratios[:, None] * scales[None, :]).view(-1)
            hs = (base_size * h_ratios[:, None] * scales[None, :]).view(-1)
        else:
            ws = (base_size * scales[:, None] * w_ratios[None, :]).view(-1)
            hs = (base_size * scales[:, None] * h_ratios[None, :]).view(-1)
        return torch.stack([x_center - 0.5 * ws, y_center - 0.5 * hs,
                            x_center + 0.5 * ws, y_center + 0.5 * hs], dim=-1)

    # ------------------------------------------------------------------ grids
    def grid_priors(self, featmap_sizes: Sequence[tuple[int, int]],
                    dtype: torch.dtype = torch.float32,
                    device: DeviceType = "cuda") -> list[Tensor]:
        """Anchors of every level: (h * w * num_base_anchors, 4) each, for (h, w) sizes."""
        self._check_num_levels(featmap_sizes)
        return [self.single_level_grid_priors(size, level, dtype=dtype, device=device)
                for level, size in enumerate(featmap_sizes)]

    def single_level_grid_priors(self, featmap_size: tuple[int, int], level_idx: int,
                                 dtype: torch.dtype = torch.float32,
                                 device: DeviceType = "cuda") -> Tensor | HorizontalBoxes:
        """(h * w * num_base_anchors, 4) anchors of one level."""
        base_anchors = self.base_anchors[level_idx].to(device).to(dtype)
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        shift_x = torch.arange(0, feat_w, device=device).to(dtype) * stride_w
        shift_y = torch.arange(0, feat_h, device=device).to(dtype) * stride_h
        shift_yy, shift_xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
        shift_xx, shift_yy = shift_xx.reshape(-1), shift_yy.reshape(-1)
        shifts = torch.stack([shift_xx, shift_yy, shift_xx, shift_yy], dim=-1)
        anchors = (base_anchors[None, :, :] + shifts[:, None, :]).view(-1, 4)
        return HorizontalBoxes(anchors) if self.use_box_type else anchors

    def sparse_priors(self, prior_idxs: Tensor, featmap_size: tuple[int, int], level_idx: int,
                      dtype: torch.dtype = torch.float32, device: DeviceType = "cuda") -> Tensor:
        """(len(prior_idxs), 4) anchors of the given indices of one level's grid."""
        height, width = featmap_size
        num_base = self.num_base_anchors[level_idx]
        base_anchor_id = prior_idxs % num_base
        x = prior_idxs // num_base % width * self.strides[level_idx][0]
        y = prior_idxs // width // num_base % height * self.strides[level_idx][1]
        shifts = torch.stack([x, y, x, y], 1).to(dtype).to(device)
        return shifts + self.base_anchors[level_idx][base_anchor_id, :].to(device)

    # ------------------------------------------------------------------ validity
    def valid_flags(self, featmap_sizes: Sequence[tuple[int, int]], pad_shape: Sequence[int],
                    device: DeviceType = "cuda") -> list[Tensor]:
        """Per level, (h * w * num_base_anchors,) flags of the anchors whose cell lies on the
        image (``pad_shape`` (h, w)) rather than on batch padding."""
        self._check_num_levels(featmap_sizes)
        return [self.single_level_valid_flags(
                    size, valid_feature_size(pad_shape, self.strides[level], size),
                    self.num_base_anchors[level], device=device)
                for level, size in enumerate(featmap_sizes)]

    def single_level_valid_flags(self, featmap_size: tuple[int, int],
                                 valid_size: tuple[int, int], num_base_anchors: int,
                                 device: DeviceType = "cuda") -> Tensor:
        """(h * w * num_base_anchors,) flags of the anchors in the top-left ``valid_size``."""
        return grid_valid_flags(featmap_size, valid_size, num_base_anchors, device)

    def _check_num_levels(self, featmap_sizes: Sequence) -> None:
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(f"{type(self).__name__} has {self.num_levels} levels, but got "
                             f"{len(featmap_sizes)} feature map sizes")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(strides={self.strides}, ratios={self.ratios}, "
                f"scales={self.scales}, base_sizes={self.base_sizes}, "
                f"scale_major={self.scale_major}, octave_base_scale={self.octave_base_scale}, "
                f"scales_per_octave={self.scales_per_octave}, num_levels={self.num_levels}, "
                f"centers={self.centers}, center_offset={self.center_offset})")


class SSDAnchorGenerator(AnchorGenerator):
    """Anchors of SSD: per level, a square of ``min_size``, a square of
    sqrt(min_size * max_size), then a pair (1/r, r) per ratio r, centred in each cell.

    Args:
        strides: per-level stride.
        ratios: per-level list of extra ratios (e.g. [[2], [2, 3], ...]).
        min_sizes, max_sizes: per-level anchor sizes; when omitted they follow from
            ``basesize_ratio_range`` and ``input_size`` (300 or 512) as in the SSD paper,
            with MMDetection's extra first level.
        scale_major: see :class:`AnchorGenerator` (SSD configs use False).
    """

    def __init__(self, strides: Sequence[int | tuple[int, int]], ratios: Sequence[Sequence[float]],
                 min_sizes: Sequence[float] | None = None, max_sizes: Sequence[float] | None = None,
                 basesize_ratio_range: Sequence[float] = (0.15, 0.9), input_size: int = 300,
                 scale_major: bool = True, use_box_type: bool = False) -> None:
        if len(strides) != len(ratios):
            raise ValueError(f"need one ratio list per stride, but got {len(ratios)} for "
                             f"{len(strides)} strides")
        if (min_sizes is None) != (max_sizes is None):
            raise ValueError("give both min_sizes and max_sizes, or neither")
        self.strides = [_pair(stride) for stride in strides]
        self.centers = [(stride[0] / 2.0, stride[1] / 2.0) for stride in self.strides]
        self.input_size = input_size
        self.basesize_ratio_range = basesize_ratio_range
        if min_sizes is None:
            min_sizes, max_sizes = self._sizes_from_ratio_range(basesize_ratio_range, input_size)
        if not len(min_sizes) == len(max_sizes) == len(strides):
            raise ValueError(f"need one min and max size per stride, but got {len(min_sizes)} "
                             f"min sizes and {len(max_sizes)} max sizes for {len(strides)} strides")
        self.base_sizes = list(min_sizes)
        self.scales = [torch.Tensor([1.0, np.sqrt(max_sizes[k] / min_sizes[k])])
                       for k in range(len(self.strides))]
        self.ratios = [torch.Tensor([1.0] + [v for r in level_ratios for v in (1 / r, r)])
                       for level_ratios in ratios]
        self.scale_major = scale_major
        self.center_offset = 0
        self.base_anchors = self.gen_base_anchors()
        self.use_box_type = use_box_type

    def _sizes_from_ratio_range(self, ratio_range: Sequence[float],
                                input_size: int) -> tuple[list[int], list[int]]:
        """SSD's linearly spaced sizes (in percent of the input) plus a smaller first level."""
        if len(ratio_range) != 2 or not all(isinstance(r, float) for r in ratio_range):
            raise ValueError(f"basesize_ratio_range must be two floats, but got {ratio_range!r}")
        first_levels = {300: {0.15: (7, 15), 0.2: (10, 20)}, 512: {0.1: (4, 10), 0.15: (7, 15)}}
        if input_size not in first_levels:
            raise ValueError(f"SSDAnchorGenerator derives sizes only for input_size 300 or 512 "
                             f"(give min_sizes and max_sizes otherwise), but got {input_size}")
        if ratio_range[0] not in first_levels[input_size]:
            raise ValueError(f"with input_size {input_size}, basesize_ratio_range[0] must be one "
                             f"of {sorted(first_levels[input_size])}, but got {ratio_range[0]}")
        min_ratio, max_ratio = int(ratio_range[0] * 100), int(ratio_range[1] * 100)
        step = int(np.floor(max_ratio - min_ratio) / (self.num_levels - 2))
        min_sizes = [int(input_size * r / 100) for r in range(min_ratio, max_ratio + 1, step)]
        max_sizes = [int(input_size * (r + step) / 100) for r in range(min_ratio, max_ratio + 1, step)]
        first_min, first_max = first_levels[input_size][ratio_range[0]]
        return ([int(input_size * first_min / 100)] + min_sizes,
                [int(input_size * first_max / 100)] + max_sizes)

    def gen_base_anchors(self) -> list[Tensor]:
        """Per level: the min-size square, the sqrt(min * max) square, then the ratio pairs."""
        anchors = []
        for level, base_size in enumerate(self.base_sizes):
            level_anchors = self.gen_single_level_base_anchors(
                base_size, scales=self.scales[level], ratios=self.ratios[level],
                center=self.centers[level])
            num_ratios = len(self.ratios[level])
            # with scale_major=False row num_ratios is the second scale's square
            order = [0, num_ratios, *range(1, num_ratios)]
            anchors.append(level_anchors[order])
        return anchors

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(strides={self.strides}, scales={self.scales}, "
                f"scale_major={self.scale_major}, input_size={self.input_size}, "
                f"ratios={self.ratios}, num_levels={self.num_levels}, "
                f"base_sizes={self.base_sizes}, basesize_ratio_range={self.basesize_ratio_range})")


class YOLOAnchorGenerator(AnchorGenerator):
    """Anchors of YOLOv3: fixed (w, h) sizes per level, centred in each cell.

    Args:
        strides: per-level stride.
        base_sizes: per-level list of (w, h) anchor sizes (the same count on every level).
    """

    def __init__(self, strides: Sequence[int | tuple[int, int]],
                 base_sizes: Sequence[Sequence[tuple[int, int]]],
                 use_box_type: bool = False) -> None:
        self.strides = [_pair(stride) for stride in strides]
        self.centers = [(stride[0] / 2.0, stride[1] / 2.0) for stride in self.strides]
        per_level = len(base_sizes[0])
        if any(len(sizes) != per_level for sizes in base_sizes):
            raise ValueError(f"every level needs the same number of base sizes, but got "
                             f"{[len(sizes) for sizes in base_sizes]}")
        self.base_sizes = [[_pair(size) for size in sizes] for sizes in base_sizes]
        self.base_anchors = self.gen_base_anchors()
        self.use_box_type = use_box_type

    @property
    def num_levels(self) -> int:
        """Number of feature levels."""
        return len(self.base_sizes)

    def gen_base_anchors(self) -> list[Tensor]:
        """(num_sizes, 4) base anchors of each level."""
        return [self.gen_single_level_base_anchors(sizes, self.centers[level])
                for level, sizes in enumerate(self.base_sizes)]

    def gen_single_level_base_anchors(self, base_sizes_per_level: Sequence[tuple[int, int]],
                                      center: tuple[float, float] | None = None) -> Tensor:
        """(len(base_sizes_per_level), 4) boxes of the given (w, h) around ``center``."""
        x_center, y_center = center
        wh = torch.Tensor(base_sizes_per_level)
        return torch.stack([x_center - 0.5 * wh[:, 0], y_center - 0.5 * wh[:, 1],
                            x_center + 0.5 * wh[:, 0], y_center + 0.5 * wh[:, 1]], dim=-1)
