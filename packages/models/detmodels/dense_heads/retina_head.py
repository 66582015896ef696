"""RetinaHead: RetinaNet's head: two towers of ``stacked_convs`` 3x3 ConvModules (one for
classes, one for boxes) shared across levels, then 3x3 predictors."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from ..bricks import ConvModule
from .anchor_head import AnchorHead


class RetinaHead(AnchorHead):
    """Args: as AnchorHead, plus ``stacked_convs`` (>= 0) and the towers' ``conv_cfg`` /
    ``norm_cfg``. Anchors default to RetinaNet's 3 octave scales x 3 ratios on strides
    8-128; the class predictor's bias starts at the prior probability 0.01."""

    def __init__(self, num_classes: int, in_channels: int, stacked_convs: int = 4,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 anchor_generator: Mapping = dict(type="AnchorGenerator", octave_base_scale=4,
                                                  scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                                  strides=[8, 16, 32, 64, 128]),
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01,
                     override=dict(type="Normal", name="retina_cls", std=0.01, bias_prob=0.01)),
                 **kwargs) -> None:
        if stacked_convs < 0:
            raise ValueError(f"stacked_convs must be a non-negative integer, got {stacked_convs}")
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(num_classes, in_channels, anchor_generator=anchor_generator,
                         init_cfg=init_cfg, **kwargs)

    def _tower(self) -> nn.ModuleList:
        return nn.ModuleList(
            ConvModule(self.in_channels if i == 0 else self.feat_channels, self.feat_channels, 3,
                       stride=1, padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg)
            for i in range(self.stacked_convs))

    def _init_layers(self) -> None:
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        tower_out = self.feat_channels if self.stacked_convs > 0 else self.in_channels
        self.retina_cls = nn.Conv2d(tower_out, self.num_base_priors * self.cls_out_channels, 3,
                                    padding=1)
        self.retina_reg = nn.Conv2d(tower_out,
                                    self.num_base_priors * self.bbox_coder.encode_size, 3,
                                    padding=1)

    def forward_single(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, H, W) -> (B, A*C_cls, H, W) scores, (B, A*4, H, W) deltas."""
        cls_feat = reg_feat = x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat)
