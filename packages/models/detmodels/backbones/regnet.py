"""RegNetX backbones ("Designing Network Design Spaces"), as MMDetection builds them.

A RegNet is a ResNet of grouped bottlenecks without expansion whose stage widths and depths
come from a quantised linear rule: block j has width w0 + wa * j, snapped to w0 * wm**k and
to a multiple of 8; runs of equal width form the stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from detmodels.bricks import build_conv_layer, build_norm_layer

from .resnet import Bottleneck, ResNet


def regnet_stages(w0: int, wa: float, wm: float, depth: int, group_w: int, bot_mul: float,
                  divisor: int = 8) -> tuple[list[int], list[int], list[int]]:
    """``(stage widths, blocks per stage, group widths)`` of a RegNet design.

    Stage widths are then adjusted so that the bottleneck width is a multiple of the group
    width (groups wider than the bottleneck shrink to it).
    """
    if wa < 0 or w0 <= 0 or wm <= 1 or w0 % divisor:
        raise ValueError(f"RegNet arch needs wa >= 0, w0 > 0 and a multiple of {divisor}, wm > 1; "
                         f"got w0={w0}, wa={wa}, wm={wm}")
    continuous = np.arange(depth) * wa + w0
    exponents = np.round(np.log(continuous / w0) / np.log(wm))
    widths = (np.round(w0 * np.power(wm, exponents) / divisor) * divisor).astype(int).tolist()
    starts = [j for j in range(depth) if j == 0 or widths[j] != widths[j - 1]]
    stage_widths = [widths[j] for j in starts]
    stage_blocks = np.diff(starts + [depth]).tolist()

    bottleneck = [int(w * bot_mul) for w in stage_widths]
    group_widths = [min(group_w, b) for b in bottleneck]
    bottleneck = [int(round(b / g) * g) for b, g in zip(bottleneck, group_widths)]
    stage_widths = [int(b / bot_mul) for b in bottleneck]
    return stage_widths, stage_blocks, group_widths


class RegNet(ResNet):
    """RegNetX backbone: a 3x3 stride-2 stem (no max-pool) then 4 stages at strides 4-32.

    Args:
        arch: a name from ``arch_settings`` ('regnetx_3.2gf'...) or a dict with w0, wa, wm,
            group_w, depth, bot_mul.
        stem_channels: stem width (32). Other arguments: see ResNet (depth is set by arch).
    """

    arch_settings = {
        "regnetx_400mf": dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=1.0),
        "regnetx_800mf": dict(w0=56, wa=35.73, wm=2.28, group_w=16, depth=16, bot_mul=1.0),
        "regnetx_1.6gf": dict(w0=80, wa=34.01, wm=2.25, group_w=24, depth=18, bot_mul=1.0),
        "regnetx_3.2gf": dict(w0=88, wa=26.31, wm=2.25, group_w=48, depth=25, bot_mul=1.0),
        "regnetx_4.0gf": dict(w0=96, wa=38.65, wm=2.43, group_w=40, depth=23, bot_mul=1.0),
        "regnetx_6.4gf": dict(w0=184, wa=60.83, wm=2.07, group_w=56, depth=17, bot_mul=1.0),
        "regnetx_8.0gf": dict(w0=80, wa=49.56, wm=2.88, group_w=120, depth=23, bot_mul=1.0),
        "regnetx_12gf": dict(w0=168, wa=73.36, wm=2.37, group_w=112, depth=19, bot_mul=1.0),
    }

    def __init__(self, arch: str | dict, in_channels: int = 3, stem_channels: int = 32,
                 base_channels: int = 32, strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), **kwargs):
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(f"RegNet: unknown arch {arch!r}; choose one of "
                               f"{', '.join(self.arch_settings)} or give a dict")
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict):
            raise TypeError(f"RegNet: arch must be a name or a dict, got {type(arch).__name__}")
        self.stage_widths, stage_blocks, self.group_widths = regnet_stages(**arch)
        self.bottleneck_ratio = [arch["bot_mul"]] * len(stage_blocks)
        self._regnet_stage_blocks = tuple(stage_blocks)
        super().__init__(depth=sum(stage_blocks), in_channels=in_channels,
                         stem_channels=stem_channels, base_channels=base_channels,
                         num_stages=len(stage_blocks), strides=strides, dilations=dilations,
                         **kwargs)

    def _architecture(self, depth) -> tuple[type[nn.Module], tuple[int, ...]]:
        return Bottleneck, self._regnet_stage_blocks

    def _stage_planes(self, index: int) -> tuple[int, dict]:
        width = int(round(self.stage_widths[index] * self.bottleneck_ratio[index]))
        group_width = self.group_widths[index]
        return self.stage_widths[index], dict(groups=width // group_width, base_width=group_width,
                                              base_channels=self.stage_widths[index], expansion=1)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, kernel_size=3,
                                      stride=2, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.norm1(self.conv1(x)))
