"""DepthwiseSeparableConvModule: a depthwise ConvModule (groups = in_channels) followed by a
pointwise 1x1 ConvModule, with MMCV's arguments and sub-module names."""

from __future__ import annotations

import torch
from torch import nn

from .conv_module import ConvModule


class DepthwiseSeparableConvModule(nn.Module):
    """depthwise_conv (k x k, per channel) -> pointwise_conv (1 x 1, mixes channels).

    ``norm_cfg``/``act_cfg`` apply to both convs unless ``dw_*``/``pw_*`` give one of them
    its own ('default' means: use the shared one). Other kwargs go to both ConvModules.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 - MMCV's default, never mutated
                 dw_norm_cfg: dict | None | str = "default", dw_act_cfg: dict | None | str = "default",
                 pw_norm_cfg: dict | None | str = "default", pw_act_cfg: dict | None | str = "default",
                 **kwargs):
        super().__init__()
        if "groups" in kwargs:
            raise ValueError("DepthwiseSeparableConvModule: groups is fixed to in_channels; "
                             "do not pass it")

        def pick(own, shared):
            return shared if own == "default" else own

        self.depthwise_conv = ConvModule(
            in_channels, in_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=in_channels, norm_cfg=pick(dw_norm_cfg, norm_cfg),
            act_cfg=pick(dw_act_cfg, act_cfg), **kwargs)
        self.pointwise_conv = ConvModule(
            in_channels, out_channels, 1, norm_cfg=pick(pw_norm_cfg, norm_cfg),
            act_cfg=pick(pw_act_cfg, act_cfg), **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
