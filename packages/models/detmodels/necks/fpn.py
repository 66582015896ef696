"""FPN: Feature Pyramid Network ("Feature Pyramid Networks for Object Detection"), with
MMDetection's options and module names (``lateral_convs``, ``fpn_convs``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from detmodels.bricks import BaseModule, ConvModule

_EXTRA_SOURCES = ("on_input", "on_lateral", "on_output")


class FPN(BaseModule):
    """Top-down pyramid: 1x1 laterals, nearest upsampling and addition, 3x3 output convs;
    then ``num_outs - used levels`` extra coarser levels.

    Args:
        in_channels: channels of each backbone level.
        out_channels: channels of every output level.
        num_outs: number of output levels.
        start_level, end_level: the backbone levels used (end_level -1: the last).
        add_extra_convs: how extra levels are made. False: max-pool (kernel 1, stride 2) of the
            last output. True or 'on_input': a stride-2 3x3 conv on the last used backbone
            level, then on the previous extra level; 'on_lateral': the first one on the last
            lateral; 'on_output': on the last FPN output.
        relu_before_extra_convs: ReLU before every extra conv but the first.
        no_norm_on_lateral: laterals without the norm layer.
        conv_cfg, norm_cfg, act_cfg: of every ConvModule (default: plain convs with bias).
        upsample_cfg: F.interpolate arguments for the top-down path; without scale_factor
            the coarser map is resized to the finer one's size.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, num_outs: int,
                 start_level: int = 0, end_level: int = -1, add_extra_convs: bool | str = False,
                 relu_before_extra_convs: bool = False, no_norm_on_lateral: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = None,
                 upsample_cfg: dict = dict(mode="nearest"),  # noqa: B006 - copied, never mutated
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Xavier", layer="Conv2d", distribution="uniform")):
        super().__init__(init_cfg)
        if not isinstance(in_channels, (list, tuple)):
            raise TypeError(f"{type(self).__name__}: in_channels must be a list, got {in_channels!r}")
        self.in_channels, self.out_channels = list(in_channels), out_channels
        self.num_ins, self.num_outs = len(in_channels), num_outs
        self.relu_before_extra_convs, self.no_norm_on_lateral = relu_before_extra_convs, no_norm_on_lateral
        self.upsample_cfg = dict(upsample_cfg)
        self.start_level, self.end_level = start_level, end_level
        if end_level in (-1, self.num_ins - 1):
            self.backbone_end_level = self.num_ins
            if num_outs < self.num_ins - start_level:
                raise ValueError(f"{type(self).__name__}: num_outs={num_outs} is fewer than the "
                                 f"{self.num_ins - start_level} levels used")
        else:
            self.backbone_end_level = end_level + 1
            if end_level >= self.num_ins or num_outs != end_level - start_level + 1:
                raise ValueError(f"{type(self).__name__}: with end_level={end_level}, num_outs must "
                                 f"be end_level - start_level + 1 and end_level < {self.num_ins}")
        if add_extra_convs is True:
            add_extra_convs = "on_input"
        elif add_extra_convs is not False and add_extra_convs not in _EXTRA_SOURCES:
            raise ValueError(f"{type(self).__name__}: add_extra_convs must be a bool or one of "
                             f"{_EXTRA_SOURCES}, got {add_extra_convs!r}")
        self.add_extra_convs = add_extra_convs

        def conv(cin, kernel, stride=1, norm=norm_cfg):
            return ConvModule(cin, out_channels, kernel, stride=stride, padding=kernel // 2,
                              conv_cfg=conv_cfg, norm_cfg=norm, act_cfg=act_cfg, inplace=False)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(conv(in_channels[i], 1, norm=None if no_norm_on_lateral else norm_cfg))
            self.fpn_convs.append(conv(out_channels, 3))
        extra_levels = num_outs - self.backbone_end_level + start_level
        if add_extra_convs and extra_levels >= 1:
            for i in range(extra_levels):
                first_on_input = i == 0 and add_extra_convs == "on_input"
                cin = in_channels[self.backbone_end_level - 1] if first_on_input else out_channels
                self.fpn_convs.append(conv(cin, 3, stride=2))

    def _top_down(self, laterals: list[torch.Tensor]) -> None:
        """Add each coarser lateral, upsampled, into the next finer one (in place)."""
        for i in range(len(laterals) - 1, 0, -1):
            if "scale_factor" in self.upsample_cfg:
                upsampled = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                upsampled = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + upsampled

    def _add_extra_levels(self, outs: list[torch.Tensor], inputs: Sequence[torch.Tensor],
                          laterals: list[torch.Tensor]) -> None:
        """Append the levels beyond the backbone's to ``outs`` (see add_extra_convs)."""
        used = len(laterals)
        if self.num_outs <= len(outs):
            return
        if not self.add_extra_convs:
            for _ in range(self.num_outs - used):
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            return
        source = {"on_input": lambda: inputs[self.backbone_end_level - 1],
                  "on_lateral": lambda: laterals[-1],
                  "on_output": lambda: outs[-1]}[self.add_extra_convs]()
        outs.append(self.fpn_convs[used](source))
        for i in range(used + 1, self.num_outs):
            previous = F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
            outs.append(self.fpn_convs[i](previous))

    def _laterals(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"{type(self).__name__}: expected {len(self.in_channels)} input levels, "
                             f"got {len(inputs)}")
        return [conv(inputs[i + self.start_level]) for i, conv in enumerate(self.lateral_convs)]

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        laterals = self._laterals(inputs)
        self._top_down(laterals)
        outs = [self.fpn_convs[i](lateral) for i, lateral in enumerate(laterals)]
        self._add_extra_levels(outs, inputs, laterals)
        return tuple(outs)
