"""PAFPN: FPN plus a bottom-up path augmentation ("Path Aggregation Network for Instance
Segmentation"), with MMDetection's module names (``downsample_convs``, ``pafpn_convs``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from detmodels.bricks import ConvModule

from .fpn import FPN


class PAFPN(FPN):
    """After FPN's top-down outputs, each finer output is downsampled (stride-2 3x3 conv),
    added to the next coarser one and refined by a 3x3 conv. Arguments: see FPN."""

    def __init__(self, in_channels: Sequence[int], out_channels: int, num_outs: int,
                 start_level: int = 0, end_level: int = -1, add_extra_convs: bool | str = False,
                 relu_before_extra_convs: bool = False, no_norm_on_lateral: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Xavier", layer="Conv2d", distribution="uniform")):
        super().__init__(in_channels, out_channels, num_outs, start_level, end_level,
                         add_extra_convs, relu_before_extra_convs, no_norm_on_lateral, conv_cfg,
                         norm_cfg, act_cfg, init_cfg=init_cfg)
        self.downsample_convs = nn.ModuleList()
        self.pafpn_convs = nn.ModuleList()
        for _ in range(self.start_level + 1, self.backbone_end_level):
            for convs, stride in ((self.downsample_convs, 2), (self.pafpn_convs, 1)):
                convs.append(ConvModule(out_channels, out_channels, 3, stride=stride, padding=1,
                                        conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                        inplace=False))

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        laterals = self._laterals(inputs)
        self._top_down(laterals)
        inter = [self.fpn_convs[i](lateral) for i, lateral in enumerate(laterals)]
        for i in range(len(inter) - 1):
            inter[i + 1] = inter[i + 1] + self.downsample_convs[i](inter[i])
        outs = [inter[0]] + [self.pafpn_convs[i - 1](inter[i]) for i in range(1, len(inter))]
        self._add_extra_levels(outs, inputs, laterals)
        return tuple(outs)
