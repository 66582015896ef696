"""YOLOv8CSPDarknet: YOLOv8's backbone, a 3x3 stem and four stages of a stride-2 conv and a
C2f layer (CSPLayerWithTwoConv), the last one closed by SPPF."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from detmodels.bricks import ConvModule

from .base_backbone import BaseBackbone
from .csp_blocks import YOLO_ACT_CFG, YOLO_NORM_CFG, CSPLayerWithTwoConv, SPPFBottleneck
from .scaling import make_divisible, make_round


class YOLOv8CSPDarknet(BaseBackbone):
    """YOLOv8 backbone (n/s/m/l/x through deepen/widen factors and
    ``last_stage_out_channels``: 1024 for n/s, 768 for m, 512 for l/x).

    Rows of ``arch_settings``: in_channels, out_channels, num_blocks, add_identity, use_spp.
    Outputs of out_indices (2, 3, 4) have 256, 512 and last_stage_out_channels channels
    times widen_factor, at strides 8, 16 and 32.
    """

    arch_settings = {
        "P5": [[64, 128, 3, True, False], [128, 256, 6, True, False],
               [256, 512, 6, True, False], [512, None, 3, True, True]],
    }

    def __init__(self, arch: str = "P5", last_stage_out_channels: int = 1024,
                 deepen_factor: float = 1.0, widen_factor: float = 1.0, input_channels: int = 3,
                 out_indices: Sequence[int] = (2, 3, 4), frozen_stages: int = -1,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 norm_eval: bool = False, init_cfg: dict | list[dict] | None = None):
        if arch not in self.arch_settings:
            raise ValueError(f"YOLOv8CSPDarknet: arch must be one of {list(self.arch_settings)}, "
                             f"got {arch!r}")
        arch_setting = [list(row) for row in self.arch_settings[arch]]
        arch_setting[-1][1] = last_stage_out_channels
        super().__init__(arch_setting, deepen_factor, widen_factor, input_channels, out_indices,
                         frozen_stages, norm_cfg, act_cfg, norm_eval, init_cfg)

    def build_stem_layer(self) -> nn.Module:
        return ConvModule(self.input_channels,
                          make_divisible(self.arch_setting[0][0], self.widen_factor), 3,
                          stride=2, padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def build_stage_layer(self, stage_idx: int, setting: list) -> list[nn.Module]:
        in_channels, out_channels, num_blocks, add_identity, use_spp = setting
        in_channels = make_divisible(in_channels, self.widen_factor)
        out_channels = make_divisible(out_channels, self.widen_factor)
        layer = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        stage = [
            ConvModule(in_channels, out_channels, 3, stride=2, padding=1, **layer),
            CSPLayerWithTwoConv(out_channels, out_channels,
                                num_blocks=make_round(num_blocks, self.deepen_factor),
                                add_identity=add_identity, **layer),
        ]
        if use_spp:
            stage.append(SPPFBottleneck(out_channels, out_channels, kernel_sizes=5, **layer))
        return stage
