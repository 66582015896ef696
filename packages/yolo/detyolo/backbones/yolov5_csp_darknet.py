"""YOLOv5CSPDarknet: YOLOv5's (v6.0+) backbone, a 6x6 stem and stages of a stride-2 conv
and a CSPLayer (C3), the last one closed by SPPF; P5 (strides 8-32) and P6 (8-64)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from detmodels.bricks import ConvModule

from .base_backbone import BaseBackbone
from .csp_blocks import YOLO_ACT_CFG, YOLO_NORM_CFG, CSPLayer, SPPFBottleneck
from .scaling import make_divisible, make_round


class YOLOv5CSPDarknet(BaseBackbone):
    """YOLOv5 backbone. Rows of ``arch_settings``: in_channels, out_channels, num_blocks,
    add_identity, use_spp. P5 outputs (2, 3, 4) carry 256/512/1024 x widen_factor
    channels; P6 adds a 768-channel stage (outputs (2, 3, 4, 5), strides 8-64)."""

    arch_settings = {
        "P5": [[64, 128, 3, True, False], [128, 256, 6, True, False],
               [256, 512, 9, True, False], [512, 1024, 3, True, True]],
        "P6": [[64, 128, 3, True, False], [128, 256, 6, True, False],
               [256, 512, 9, True, False], [512, 768, 3, True, False],
               [768, 1024, 3, True, True]],
    }

    def __init__(self, arch: str = "P5", deepen_factor: float = 1.0, widen_factor: float = 1.0,
                 input_channels: int = 3, out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1, norm_cfg: dict = YOLO_NORM_CFG,
                 act_cfg: dict = YOLO_ACT_CFG, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = None):
        if arch not in self.arch_settings:
            raise ValueError(f"YOLOv5CSPDarknet: arch must be one of {list(self.arch_settings)}, "
                             f"got {arch!r}")
        super().__init__(self.arch_settings[arch], deepen_factor, widen_factor, input_channels,
                         out_indices, frozen_stages, norm_cfg, act_cfg, norm_eval, init_cfg)

    def build_stem_layer(self) -> nn.Module:
        return ConvModule(self.input_channels,
                          make_divisible(self.arch_setting[0][0], self.widen_factor), 6,
                          stride=2, padding=2, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def build_stage_layer(self, stage_idx: int, setting: list) -> list[nn.Module]:
        in_channels, out_channels, num_blocks, add_identity, use_spp = setting
        in_channels = make_divisible(in_channels, self.widen_factor)
        out_channels = make_divisible(out_channels, self.widen_factor)
        layer = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        stage = [
            ConvModule(in_channels, out_channels, 3, stride=2, padding=1, **layer),
            CSPLayer(out_channels, out_channels,
                     num_blocks=make_round(num_blocks, self.deepen_factor),
                     add_identity=add_identity, **layer),
        ]
        if use_spp:
            stage.append(SPPFBottleneck(out_channels, out_channels, kernel_sizes=5, **layer))
        return stage
