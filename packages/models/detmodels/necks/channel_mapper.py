"""ChannelMapper: bring every backbone level to the same channel count (DETR-family and
other single-conv necks), with MMDetection's module names (``convs``, ``extra_convs``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from detmodels.bricks import BaseModule, ConvModule


class ChannelMapper(BaseModule):
    """One ConvModule per input level (kernel ``kernel_size``, same resolution), then
    ``num_outs - len(in_channels)`` extra stride-2 3x3 convs: the first on the last input,
    the next ones on the previous extra output.

    (N, in_channels[i], Hi, Wi) per level -> tuple of (N, out_channels, Hi, Wi) (+ extras).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, kernel_size: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 - never mutated
                 bias: bool | str = "auto", num_outs: int | None = None,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Xavier", layer="Conv2d", distribution="uniform")):
        super().__init__(init_cfg)
        if not isinstance(in_channels, (list, tuple)):
            raise TypeError(f"ChannelMapper: in_channels must be a list, got {in_channels!r}")
        num_outs = len(in_channels) if num_outs is None else num_outs
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, bias=bias)
        self.convs = nn.ModuleList([
            ConvModule(c, out_channels, kernel_size, padding=(kernel_size - 1) // 2, **common)
            for c in in_channels])
        self.extra_convs = None
        if num_outs > len(in_channels):
            self.extra_convs = nn.ModuleList([
                ConvModule(in_channels[-1] if i == len(in_channels) else out_channels,
                           out_channels, 3, stride=2, padding=1, **common)
                for i in range(len(in_channels), num_outs)])

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.convs):
            raise ValueError(f"ChannelMapper: expected {len(self.convs)} input levels, got {len(inputs)}")
        outs = [conv(x) for conv, x in zip(self.convs, inputs)]
        for i, conv in enumerate(self.extra_convs or []):
            outs.append(conv(inputs[-1] if i == 0 else outs[-1]))
        return tuple(outs)
