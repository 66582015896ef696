"""YOLOv5PAFPN: YOLOv5's neck (C3 fusion layers, 1x1 reductions before upsampling)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from detmodels.bricks import ConvModule
from detyolo.backbones.csp_blocks import YOLO_ACT_CFG, YOLO_NORM_CFG, CSPLayer
from detyolo.backbones.scaling import make_divisible, make_round

from .base_yolo_neck import BaseYOLONeck


class YOLOv5PAFPN(BaseYOLONeck):
    """YOLOv5 neck: in_channels e.g. [256, 512, 1024] (P5) or [256, 512, 768, 1024] (P6),
    each scaled by widen_factor; ``num_csp_blocks`` by deepen_factor."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int],
                 deepen_factor: float = 1.0, widen_factor: float = 1.0, num_csp_blocks: int = 1,
                 freeze_all: bool = False, norm_cfg: dict = YOLO_NORM_CFG,
                 act_cfg: dict = YOLO_ACT_CFG, init_cfg: dict | list[dict] | None = None):
        self.num_csp_blocks = num_csp_blocks
        super().__init__(in_channels, out_channels, deepen_factor, widen_factor,
                         freeze_all=freeze_all, norm_cfg=norm_cfg, act_cfg=act_cfg,
                         init_cfg=init_cfg)

    def _width(self, channels: int) -> int:
        return make_divisible(channels, self.widen_factor)

    def _csp(self, in_channels: int, out_channels: int) -> CSPLayer:
        return CSPLayer(self._width(in_channels), self._width(out_channels),
                        num_blocks=make_round(self.num_csp_blocks, self.deepen_factor),
                        add_identity=False, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def _conv(self, in_channels: int, out_channels: int, kernel_size: int,
              stride: int = 1) -> ConvModule:
        return ConvModule(self._width(in_channels), self._width(out_channels), kernel_size,
                          stride=stride, padding=kernel_size // 2, norm_cfg=self.norm_cfg,
                          act_cfg=self.act_cfg)

    def build_reduce_layer(self, idx: int) -> nn.Module:
        """A 1x1 conv on the coarsest level down to the next level's channels."""
        if idx == len(self.in_channels) - 1:
            return self._conv(self.in_channels[idx], self.in_channels[idx - 1], 1)
        return nn.Identity()

    def build_upsample_layer(self, idx: int) -> nn.Module:
        return nn.Upsample(scale_factor=2, mode="nearest")

    def build_top_down_layer(self, idx: int) -> nn.Module:
        """C3 fusion; above the finest level also a 1x1 conv to the next finer channels."""
        csp = self._csp(self.in_channels[idx - 1] * 2, self.out_channels[idx - 1])
        if idx == 1:
            return csp
        return nn.Sequential(csp, self._conv(self.out_channels[idx - 1],
                                             self.out_channels[idx - 2], 1))

    def build_downsample_layer(self, idx: int) -> nn.Module:
        return self._conv(self.in_channels[idx], self.in_channels[idx], 3, stride=2)

    def build_bottom_up_layer(self, idx: int) -> nn.Module:
        return self._csp(self.in_channels[idx] * 2, self.out_channels[idx + 1])

    def build_out_layer(self, idx: int) -> nn.Module:
        return nn.Identity()
