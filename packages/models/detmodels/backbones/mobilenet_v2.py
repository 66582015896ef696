"""MobileNetV2 with MMDetection's names (used by SSDLite and YOLOv3-MobileNet configs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.utils.checkpoint as checkpoint
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from detmodels.bricks import BaseModule, ConvModule


def make_divisible(value: float, divisor: int, min_value: int | None = None,
                   min_ratio: float = 0.9) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``,
    default divisor), rounded up once more if that lost over 1 - min_ratio of it."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < min_ratio * value else rounded


class InvertedResidual(BaseModule):
    """1x1 expand (skipped when ``with_expand_conv`` is False) -> depthwise k x k -> 1x1
    linear projection, with the identity added when stride is 1 and widths agree."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int,
                 kernel_size: int = 3, stride: int = 1, with_expand_conv: bool = True,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN"),  # noqa: B006 - never mutated
                 act_cfg: dict = dict(type="ReLU"),  # noqa: B006 - never mutated
                 with_cp: bool = False, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        if not with_expand_conv and mid_channels != in_channels:
            raise ValueError("InvertedResidual: without an expand conv, mid_channels must equal "
                             f"in_channels ({mid_channels} != {in_channels})")
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_expand_conv, self.with_cp = with_expand_conv, with_cp
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, act_cfg=act_cfg, **common)
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, kernel_size, stride=stride,
                                         padding=kernel_size // 2, groups=mid_channels,
                                         act_cfg=act_cfg, **common)
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, act_cfg=None, **common)

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.linear_conv(self.depthwise_conv(out))
        return x + out if self.with_res_shortcut else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(self._branch, x, use_reentrant=False)
        return self._branch(x)


class MobileNetV2(BaseModule):
    """MobileNetV2: (N, 3, H, W) -> the outputs of ``out_indices`` among its 8 layers
    (layer1..layer7 and the final 1x1 ``conv2``); the default (1, 2, 4, 7) gives strides
    4, 8, 16, 32 with 24, 32, 96, 1280 channels at widen_factor 1.

    Args:
        widen_factor: channel multiplier (channels stay multiples of 8).
        frozen_stages: freeze conv1 and layer1..frozen_stages (-1: none).
        norm_eval: keep BatchNorms in eval mode while training.
    """

    # expand ratio, channels, blocks, stride of the first block
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                     [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (1, 2, 4, 7),
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN"),  # noqa: B006 - never mutated
                 act_cfg: dict = dict(type="ReLU6"),  # noqa: B006 - never mutated
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = None):
        if init_cfg is None:
            init_cfg = [dict(type="Kaiming", layer="Conv2d"),
                        dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"])]
        super().__init__(init_cfg)
        if not set(out_indices).issubset(range(8)):
            raise ValueError(f"MobileNetV2: out_indices must be within 0..7, got {tuple(out_indices)}")
        if frozen_stages not in range(-1, 8):
            raise ValueError(f"MobileNetV2: frozen_stages must be in -1..7, got {frozen_stages}")
        self.widen_factor, self.out_indices, self.frozen_stages = widen_factor, out_indices, frozen_stages
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.norm_eval, self.with_cp = norm_eval, with_cp
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, self.in_channels, 3, stride=2, padding=1, **common)
        self.layers = []
        for i, (expand_ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            layer = self.make_layer(make_divisible(channels * widen_factor, 8), num_blocks, stride,
                                    expand_ratio)
            self.add_module(f"layer{i + 1}", layer)
            self.layers.append(f"layer{i + 1}")
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(self.in_channels, self.out_channel, 1, **common)
        self.layers.append("conv2")
        self._freeze_stages()

    def make_layer(self, out_channels: int, num_blocks: int, stride: int,
                   expand_ratio: float) -> nn.Sequential:
        blocks = []
        for i in range(num_blocks):
            blocks.append(InvertedResidual(
                self.in_channels, out_channels, mid_channels=int(round(self.in_channels * expand_ratio)),
                stride=stride if i == 0 else 1, with_expand_conv=expand_ratio != 1,
                conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg,
                with_cp=self.with_cp))
            self.in_channels = out_channels
        return nn.Sequential(*blocks)

    def _freeze_stages(self) -> None:
        frozen = [self.conv1] if self.frozen_stages >= 0 else []
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> MobileNetV2:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
