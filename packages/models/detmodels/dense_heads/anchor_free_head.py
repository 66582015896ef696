"""AnchorFreeHead: heads that predict from points (one per feature-map location) instead of
anchors: a class tower and a box tower of ``stacked_convs`` ConvModules, then 3x3
predictors ``conv_cls`` and ``conv_reg`` (the base of FCOS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from detcore.registry import MODELS, TASK_UTILS

from ..bricks import ConvModule
from ..task_modules.prior_generators import MlvlPointGenerator
from ..task_modules.utils import multi_apply
from .base_dense_head import BaseDenseHead


class AnchorFreeHead(BaseDenseHead):
    """Args (MMDetection's names and defaults):
        num_classes, in_channels, feat_channels, stacked_convs: as in AnchorHead/RetinaHead.
        strides: stride of each input level (the point generator's).
        dcn_on_last_conv: the last conv of each tower is a modulated deformable conv.
        conv_bias: bias of the tower convs ('auto': only without norm).
        loss_cls, loss_bbox, bbox_coder: MODELS / TASK_UTILS configs.
        conv_cfg, norm_cfg: of the tower convs.

    Subclasses give ``loss_by_feat`` and ``get_targets``.
    """

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int = 256,
                 stacked_convs: int = 4,
                 strides: Sequence[int | tuple[int, int]] = (4, 8, 16, 32, 64),
                 dcn_on_last_conv: bool = False, conv_bias: bool | str = "auto",
                 loss_cls: Mapping = dict(type="FocalLoss", use_sigmoid=True, gamma=2.0,
                                          alpha=0.25, loss_weight=1.0),
                 loss_bbox: Mapping = dict(type="IoULoss", loss_weight=1.0),
                 bbox_coder: Mapping = dict(type="DistancePointBBoxCoder"),
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01,
                     override=dict(type="Normal", name="conv_cls", std=0.01, bias_prob=0.01))
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not (conv_bias == "auto" or isinstance(conv_bias, bool)):
            raise ValueError(f"conv_bias must be 'auto' or a bool, got {conv_bias!r}")
        self.num_classes = num_classes
        self.use_sigmoid_cls = loss_cls.get("use_sigmoid", False)
        self.cls_out_channels = num_classes if self.use_sigmoid_cls else num_classes + 1
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = strides
        self.dcn_on_last_conv = dcn_on_last_conv
        self.conv_bias = conv_bias
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.prior_generator = MlvlPointGenerator(strides)
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self._init_layers()

    def _init_layers(self) -> None:
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self._init_predictor()

    def _tower(self) -> nn.ModuleList:
        """``stacked_convs`` 3x3 ConvModules; the last is deformable with dcn_on_last_conv."""
        last = self.stacked_convs - 1
        return nn.ModuleList(
            ConvModule(self.in_channels if i == 0 else self.feat_channels, self.feat_channels, 3,
                       stride=1, padding=1,
                       conv_cfg=(dict(type="DCNv2") if self.dcn_on_last_conv and i == last
                                 else self.conv_cfg),
                       norm_cfg=self.norm_cfg, bias=self.conv_bias)
            for i in range(self.stacked_convs))

    def _init_predictor(self) -> None:
        self.conv_cls = nn.Conv2d(self.feat_channels, self.cls_out_channels, 3, padding=1)
        self.conv_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        return multi_apply(self.forward_single, x)[:2]

    def forward_single(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(B, C, H, W) -> class scores (B, C_cls, H, W), box outputs (B, 4, H, W), and the
        towers' last features (subclasses add predictors on them)."""
        cls_feat = reg_feat = x
        for layer in self.cls_convs:
            cls_feat = layer(cls_feat)
        for layer in self.reg_convs:
            reg_feat = layer(reg_feat)
        return self.conv_cls(cls_feat), self.conv_reg(reg_feat), cls_feat, reg_feat

    def get_targets(self, points: Sequence[Tensor], batch_gt_instances: Sequence):
        raise NotImplementedError(f"{type(self).__name__} must implement get_targets")
