"""PixelShufflePack: learnable sub-pixel upsampling (MMCV's 'pixel_shuffle' upsample type)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .weight_init import xavier_init


class PixelShufflePack(nn.Module):
    """A conv to out_channels * scale_factor**2 channels, then pixel shuffle:
    (N, in, H, W) -> (N, out, H * s, W * s)."""

    def __init__(self, in_channels: int, out_channels: int, scale_factor: int,
                 upsample_kernel: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.scale_factor, self.upsample_kernel = scale_factor, upsample_kernel
        self.upsample_conv = nn.Conv2d(in_channels, out_channels * scale_factor * scale_factor,
                                       upsample_kernel, padding=(upsample_kernel - 1) // 2)
        self.init_weights()

    def init_weights(self) -> None:
        xavier_init(self.upsample_conv, distribution="uniform")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)
