"""Deformable convolutions as conv layers for ``conv_cfg``/``dcn`` configs: 'DCN'
(DCNv1) and 'DCNv2' (modulated), with MMCV's arguments and parameter names (``weight``,
``bias``, ``conv_offset``) so MMDetection DCN checkpoints load as they are.

The layer predicts its sampling offsets (and, for DCNv2, modulation masks) from its input
with ``conv_offset``, zero-initialised: it starts as a plain convolution. The op is detops'
deform_conv2d when detops provides it, else torchvision.ops.deform_conv2d (same signature
and offset layout: (dy, dx) per kernel tap).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.utils import _pair

try:
    from detops import deform_conv2d
except ImportError:  # detops without its deformable-conv kernels
    from torchvision.ops import deform_conv2d


class DeformConv2dPack(nn.Module):
    """DCNv1: (N, in, H, W) -> (N, out, Ho, Wo), sampling at offsets predicted per pixel.

    ``deform_groups`` splits the input channels into groups that share one offset field.
    """

    _offset_values_per_tap = 2  # (dy, dx)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, deform_groups: int = 1,
                 bias: bool = False):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and out_channels "
                             f"{out_channels} must be divisible by groups {groups}")
        if in_channels % deform_groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} must be divisible "
                             f"by deform_groups {deform_groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups, self.deform_groups = groups, deform_groups
        self.transposed, self.output_padding = False, (0, 0)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        taps = deform_groups * self.kernel_size[0] * self.kernel_size[1]
        self.conv_offset = nn.Conv2d(in_channels, taps * self._offset_values_per_tap,
                                     self.kernel_size, self.stride, self.padding, self.dilation,
                                     bias=True)
        self.init_weights()

    def init_weights(self) -> None:
        """Uniform(+-1/sqrt(fan_in)) weights, zero bias, zero offsets (MMCV's init)."""
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def _offset_and_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.conv_offset(x), None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset, mask = self._offset_and_mask(x)
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, mask=mask)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, deform_groups={self.deform_groups}, "
                f"bias={self.bias is not None}")


class ModulatedDeformConv2dPack(DeformConv2dPack):
    """DCNv2: DCNv1 plus a per-tap modulation mask, sigmoid of the last third of
    ``conv_offset``'s output (the first two thirds are the offsets, as MMCV splits them).
    Bias on by default, as MMCV's."""

    _offset_values_per_tap = 3  # (dy, dx, mask logit)

    def __init__(self, *args, bias: bool = True, **kwargs):
        super().__init__(*args, bias=bias, **kwargs)

    def _offset_and_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.conv_offset(x)
        taps = out.shape[1] // 3
        return out[:, :2 * taps].contiguous(), out[:, 2 * taps:].sigmoid().contiguous()
