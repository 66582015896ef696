"""DilatedEncoder: YOLOF's neck ("You Only Look One-level Feature"): one level, widened
receptive field through residual blocks of increasing dilation. MMDetection's names."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from detmodels.bricks import ConvModule, caffe2_xavier_init, constant_init, is_norm, normal_init


class Bottleneck(nn.Module):
    """1x1 reduce -> dilated 3x3 -> 1x1 restore (ConvModules with BN and ReLU), plus identity."""

    def __init__(self, in_channels: int, mid_channels: int, dilation: int,
                 norm_cfg: dict = dict(type="BN", requires_grad=True)):  # noqa: B006 - never mutated
        super().__init__()
        self.conv1 = ConvModule(in_channels, mid_channels, 1, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(mid_channels, mid_channels, 3, padding=dilation, dilation=dilation,
                                norm_cfg=norm_cfg)
        self.conv3 = ConvModule(mid_channels, in_channels, 1, norm_cfg=norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv3(self.conv2(self.conv1(x)))


class DilatedEncoder(nn.Module):
    """Last backbone level -> 1x1 conv + BN (``lateral_*``) -> 3x3 conv + BN (``fpn_*``) ->
    ``num_residual_blocks`` dilated Bottlenecks. Returns a 1-tuple (N, out_channels, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, block_mid_channels: int,
                 num_residual_blocks: int, block_dilations: Sequence[int]):
        super().__init__()
        if len(block_dilations) != num_residual_blocks:
            raise ValueError(f"DilatedEncoder: {len(block_dilations)} block_dilations for "
                             f"{num_residual_blocks} residual blocks")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.block_mid_channels, self.num_residual_blocks = block_mid_channels, num_residual_blocks
        self.block_dilations = block_dilations
        self.lateral_conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.lateral_norm = nn.BatchNorm2d(out_channels)
        self.fpn_conv = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.fpn_norm = nn.BatchNorm2d(out_channels)
        self.dilated_encoder_blocks = nn.Sequential(*[
            Bottleneck(out_channels, block_mid_channels, dilation=d) for d in block_dilations])

    def init_weights(self) -> None:
        caffe2_xavier_init(self.lateral_conv)
        caffe2_xavier_init(self.fpn_conv)
        for norm in (self.lateral_norm, self.fpn_norm):
            constant_init(norm, 1)
        for m in self.dilated_encoder_blocks.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, mean=0, std=0.01)
            if is_norm(m):
                constant_init(m, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor]:
        out = self.lateral_norm(self.lateral_conv(features[-1]))
        out = self.fpn_norm(self.fpn_conv(out))
        return (self.dilated_encoder_blocks(out),)
