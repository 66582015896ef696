"""YOLOv8PAFPN: YOLOv8's neck, YOLOv5's without the 1x1 reductions and with C2f fusion."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from detyolo.backbones.csp_blocks import YOLO_ACT_CFG, YOLO_NORM_CFG, CSPLayerWithTwoConv
from detyolo.backbones.scaling import make_round

from .yolov5_pafpn import YOLOv5PAFPN


class YOLOv8PAFPN(YOLOv5PAFPN):
    """YOLOv8 neck: in_channels = out_channels = [256, 512, last_stage_out_channels] before
    widen_factor; ``num_csp_blocks`` (3) scaled by deepen_factor."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int],
                 deepen_factor: float = 1.0, widen_factor: float = 1.0, num_csp_blocks: int = 3,
                 freeze_all: bool = False, norm_cfg: dict = YOLO_NORM_CFG,
                 act_cfg: dict = YOLO_ACT_CFG, init_cfg: dict | list[dict] | None = None):
        super().__init__(in_channels, out_channels, deepen_factor, widen_factor, num_csp_blocks,
                         freeze_all, norm_cfg, act_cfg, init_cfg)

    def _c2f(self, in_channels: int, out_channels: int) -> CSPLayerWithTwoConv:
        return CSPLayerWithTwoConv(self._width(in_channels), self._width(out_channels),
                                   num_blocks=make_round(self.num_csp_blocks, self.deepen_factor),
                                   add_identity=False, norm_cfg=self.norm_cfg,
                                   act_cfg=self.act_cfg)

    def build_reduce_layer(self, idx: int) -> nn.Module:
        return nn.Identity()

    def build_top_down_layer(self, idx: int) -> nn.Module:
        return self._c2f(self.in_channels[idx - 1] + self.in_channels[idx],
                         self.out_channels[idx - 1])

    def build_bottom_up_layer(self, idx: int) -> nn.Module:
        return self._c2f(self.out_channels[idx] + self.out_channels[idx + 1],
                         self.out_channels[idx + 1])
