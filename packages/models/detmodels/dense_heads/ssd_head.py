"""SSDHead (Liu et al., SSD: Single Shot MultiBox Detector): per level, its own class and
box predictors (optionally after depthwise-separable convs, SSDLite), softmax over
classes + background, and hard negative mining: the negatives with the highest
classification loss, ``neg_pos_ratio`` per positive, are the only ones that count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from ..bricks import ConvModule, DepthwiseSeparableConvModule
from ..losses import smooth_l1_loss
from ..task_modules.samplers import PseudoSampler
from ..task_modules.utils import multi_apply
from .anchor_head import AnchorHead
from .base_dense_head import BaseDenseHead


class SSDHead(AnchorHead):
    """Args (MMDetection's names and defaults):
        num_classes: object classes; the head predicts num_classes + 1 (background last).
        in_channels: channels of each level (one predictor pair per level).
        stacked_convs, feat_channels, use_depthwise, conv_cfg, norm_cfg, act_cfg: convs
            before the predictors (SSDLite: depthwise-separable, then a depthwise conv,
            then 1x1 predictors).
        anchor_generator, bbox_coder, reg_decoded_bbox: as AnchorHead.
        train_cfg: assigner, sampler, allowed_border, pos_weight, ``neg_pos_ratio`` and
            ``smoothl1_beta``.
    """

    def __init__(self, num_classes: int = 80,
                 in_channels: Sequence[int] = (512, 1024, 512, 256, 256, 256),
                 stacked_convs: int = 0, feat_channels: int = 256, use_depthwise: bool = False,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 act_cfg: Mapping | None = None,
                 anchor_generator: Mapping = dict(
                     type="SSDAnchorGenerator", scale_major=False, input_size=300,
                     strides=[8, 16, 32, 64, 100, 300],
                     ratios=([2], [2, 3], [2, 3], [2, 3], [2], [2]),
                     basesize_ratio_range=(0.1, 0.9)),
                 bbox_coder: Mapping = dict(type="DeltaXYWHBBoxCoder", clip_border=True,
                                            target_means=[0.0, 0.0, 0.0, 0.0],
                                            target_stds=[1.0, 1.0, 1.0, 1.0]),
                 reg_decoded_bbox: bool = False,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Xavier", layer="Conv2d", distribution="uniform", bias=0)) -> None:
        # AnchorHead's constructor builds shared predictors and losses SSD does not have
        BaseDenseHead.__init__(self, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.stacked_convs = stacked_convs
        self.feat_channels = feat_channels
        self.use_depthwise = use_depthwise
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.cls_out_channels = num_classes + 1
        self.prior_generator = TASK_UTILS.build(anchor_generator)
        self.num_base_priors = self.prior_generator.num_base_priors  # one count per level
        if len(self.num_base_priors) != len(in_channels):
            raise ValueError(f"in_channels has {len(in_channels)} levels but the anchor "
                             f"generator has {len(self.num_base_priors)}")
        self._init_layers()
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.reg_decoded_bbox = reg_decoded_bbox
        self.use_sigmoid_cls = False
        self.cls_focal_loss = False
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = TASK_UTILS.build(train_cfg["assigner"])
            if train_cfg.get("sampler") is not None:
                self.sampler = TASK_UTILS.build(train_cfg["sampler"],
                                                default_args=dict(context=self))
            else:
                self.sampler = PseudoSampler(context=self)

    def _branch(self, in_channels: int, out_channels: int) -> nn.Sequential:
        conv = DepthwiseSeparableConvModule if self.use_depthwise else ConvModule
        layers = []
        for _ in range(self.stacked_convs):
            layers.append(conv(in_channels, self.feat_channels, 3, padding=1,
                               conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                               act_cfg=self.act_cfg))
            in_channels = self.feat_channels
        if self.use_depthwise:
            layers.append(ConvModule(in_channels, in_channels, 3, padding=1, groups=in_channels,
                                     conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                                     act_cfg=self.act_cfg))
        kernel = 1 if self.use_depthwise else 3
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel,
                                padding=kernel // 2))
        return nn.Sequential(*layers)

    def _init_layers(self) -> None:
        self.cls_convs = nn.ModuleList(
            self._branch(channels, priors * self.cls_out_channels)
            for channels, priors in zip(self.in_channels, self.num_base_priors))
        self.reg_convs = nn.ModuleList(
            self._branch(channels, priors * 4)
            for channels, priors in zip(self.in_channels, self.num_base_priors))

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: scores (B, A_l*(C+1), H, W) and deltas (B, A_l*4, H, W)."""
        cls_scores = [cls_conv(feat) for feat, cls_conv in zip(x, self.cls_convs)]
        bbox_preds = [reg_conv(feat) for feat, reg_conv in zip(x, self.reg_convs)]
        return cls_scores, bbox_preds

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor, anchor: Tensor,
                            labels: Tensor, label_weights: Tensor, bbox_targets: Tensor,
                            bbox_weights: Tensor, avg_factor: int) -> tuple[Tensor, Tensor]:
        """One image, all levels: (N, C+1) scores, (N, 4) deltas and anchors, (N,) labels.
        The class loss sums the positives and the hardest 3x-as-many negatives."""
        loss_cls_all = F.cross_entropy(cls_score, labels, reduction="none") * label_weights
        pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero().reshape(-1)
        neg_inds = (labels == self.num_classes).nonzero().reshape(-1)
        num_neg = min(self.train_cfg["neg_pos_ratio"] * pos_inds.size(0), neg_inds.size(0))
        hardest_neg_losses, _ = loss_cls_all[neg_inds].topk(num_neg)
        loss_cls = (loss_cls_all[pos_inds].sum() + hardest_neg_losses.sum()) / avg_factor
        if self.reg_decoded_bbox:
            bbox_pred = self.bbox_coder.decode(anchor, bbox_pred)
        loss_bbox = smooth_l1_loss(bbox_pred, bbox_targets, bbox_weights,
                                   beta=self.train_cfg["smoothl1_beta"], avg_factor=avg_factor)
        return loss_cls[None], loss_bbox

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence | None = None) -> dict[str, list[Tensor]]:
        """Per-image ``loss_cls`` and ``loss_bbox`` (SSD mines negatives per image)."""
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        if len(featmap_sizes) != self.prior_generator.num_levels:
            raise ValueError(f"{len(featmap_sizes)} feature levels but the anchor generator "
                             f"has {self.prior_generator.num_levels}")
        anchor_list, valid_flag_list = self.get_anchors(featmap_sizes, batch_img_metas,
                                                        device=cls_scores[0].device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                        batch_img_metas, batch_gt_instances_ignore,
                                        unmap_outputs=True)
        num_images = len(batch_img_metas)
        all_cls_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1,
                                                                  self.cls_out_channels)
                                    for s in cls_scores], 1)
        all_bbox_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                                    for b in bbox_preds], 1)
        losses_cls, losses_bbox = multi_apply(
            self.loss_by_feat_single, all_cls_scores, all_bbox_preds,
            [torch.cat(anchors) for anchors in anchor_list],
            torch.cat(labels_list, -1).view(num_images, -1),
            torch.cat(label_weights_list, -1).view(num_images, -1),
            torch.cat(bbox_targets_list, -2).view(num_images, -1, 4),
            torch.cat(bbox_weights_list, -2).view(num_images, -1, 4),
            avg_factor=avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox)
