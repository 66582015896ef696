"""GFLHead (Li et al., Generalized Focal Loss): the class score doubles as the predicted
IoU (trained by Quality Focal Loss against the IoU of the decoded box), and each box side is
a discrete distribution over 0..reg_max strides (Distribution Focal Loss), read out by its
expectation (Integral)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detcore.registry import MODELS
from detcore.structures import InstanceData
from detcore.structures.bbox import bbox_overlaps

from ..bricks import ConvModule, Scale
from ..task_modules.utils import filter_scores_and_topk, multi_apply
from ..utils import reduce_mean
from .atss_head import LevelAssignedAnchorHead


class Integral(nn.Module):
    """(N, 4*(reg_max+1)) logits of the per-side distributions -> (N, 4) distances (in
    strides): the expectation of each softmax over the bins 0..reg_max."""

    def __init__(self, reg_max: int = 16) -> None:
        super().__init__()
        self.reg_max = reg_max
        self.register_buffer("project", torch.linspace(0, reg_max, reg_max + 1))

    def forward(self, x: Tensor) -> Tensor:
        x = F.softmax(x.reshape(-1, self.reg_max + 1), dim=1)
        return F.linear(x, self.project.type_as(x)).reshape(-1, 4)


class GFLHead(LevelAssignedAnchorHead):
    """Args: as AnchorHead (one anchor per location, used for its centre and level), plus
        stacked_convs, conv_cfg, norm_cfg: the towers (GroupNorm 32 by default).
        loss_dfl: MODELS config of the Distribution Focal Loss.
        bbox_coder: distances from anchor centres (DistancePointBBoxCoder).
        reg_max: the largest distance bin, in strides.
    Box targets are always the gt boxes themselves (reg_decoded_bbox is forced to True).
    """

    def __init__(self, num_classes: int, in_channels: int, stacked_convs: int = 4,
                 conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = dict(type="GN", num_groups=32,  # noqa: B006
                                                 requires_grad=True),
                 loss_dfl: Mapping = dict(type="DistributionFocalLoss", loss_weight=0.25),
                 bbox_coder: Mapping = dict(type="DistancePointBBoxCoder"),
                 reg_max: int = 16,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01,
                     override=dict(type="Normal", name="gfl_cls", std=0.01, bias_prob=0.01)),
                 **kwargs) -> None:
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.reg_max = reg_max
        kwargs["reg_decoded_bbox"] = True
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         bbox_coder=bbox_coder, init_cfg=init_cfg, **kwargs)
        self.integral = Integral(self.reg_max)
        self.loss_dfl = MODELS.build(loss_dfl)

    def _init_layers(self) -> None:
        if self.num_base_priors != 1:
            raise ValueError(f"GFLHead needs one anchor per location, the anchor generator "
                             f"gives {self.num_base_priors}")
        self.relu = nn.ReLU()
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        for i in range(self.stacked_convs):
            channels = self.in_channels if i == 0 else self.feat_channels
            for tower in (self.cls_convs, self.reg_convs):
                tower.append(ConvModule(channels, self.feat_channels, 3, stride=1, padding=1,
                                        conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg))
        self.gfl_cls = nn.Conv2d(self.feat_channels, self.cls_out_channels, 3, padding=1)
        self.gfl_reg = nn.Conv2d(self.feat_channels, 4 * (self.reg_max + 1), 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.prior_generator.strides])

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: scores (B, C, H, W), distribution logits (B, 4*(reg_max+1), H, W)."""
        return multi_apply(self.forward_single, x, self.scales)

    def forward_single(self, x: Tensor, scale: Scale) -> tuple[Tensor, Tensor]:
        cls_feat = reg_feat = x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return self.gfl_cls(cls_feat), scale(self.gfl_reg(reg_feat)).float()

    @staticmethod
    def anchor_center(anchors: Tensor) -> Tensor:
        """(..., 4) xyxy -> (..., 2) centres."""
        return torch.stack([(anchors[..., 2] + anchors[..., 0]) / 2,
                            (anchors[..., 3] + anchors[..., 1]) / 2], dim=-1)

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                            labels: Tensor, label_weights: Tensor, bbox_targets: Tensor,
                            stride: tuple[int, int], avg_factor: float
                            ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One level, in units of its stride: QFL against the IoU of each positive's
        decoded box, GIoU and DFL of the positives weighted by their best class score
        (not yet normalised), and the sum of those weights (their normaliser)."""
        if stride[0] != stride[1]:
            raise ValueError(f"GFLHead needs square strides, got {stride}")
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4 * (self.reg_max + 1))
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        score = label_weights.new_zeros(labels.shape)
        if len(pos_inds) > 0:
            pos_bbox_pred = bbox_pred[pos_inds]
            pos_centers = self.anchor_center(anchors[pos_inds]) / stride[0]
            weight_targets = cls_score.detach().sigmoid().max(dim=1)[0][pos_inds]
            pos_decoded_pred = self.bbox_coder.decode(pos_centers, self.integral(pos_bbox_pred))
            pos_decoded_targets = bbox_targets[pos_inds] / stride[0]
            score[pos_inds] = bbox_overlaps(pos_decoded_pred.detach(), pos_decoded_targets,
                                            is_aligned=True)
            target_corners = self.bbox_coder.encode(pos_centers, pos_decoded_targets,
                                                    self.reg_max).reshape(-1)
            loss_bbox = self.loss_bbox(pos_decoded_pred, pos_decoded_targets,
                                       weight=weight_targets, avg_factor=1.0)
            loss_dfl = self.loss_dfl(pos_bbox_pred.reshape(-1, self.reg_max + 1), target_corners,
                                     weight=weight_targets[:, None].expand(-1, 4).reshape(-1),
                                     avg_factor=4.0)
        else:  # zero losses that still reach the predictors
            loss_bbox = bbox_pred.sum() * 0
            loss_dfl = bbox_pred.sum() * 0
            weight_targets = bbox_pred.new_tensor(0)
        loss_cls = self.loss_cls(cls_score, (labels, score), weight=label_weights,
                                 avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_dfl, weight_targets.sum()

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence | None = None) -> dict[str, list[Tensor]]:
        """Per-level ``loss_cls``, ``loss_bbox`` and ``loss_dfl`` (the last two divided by
        the positives' total weight)."""
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        if len(featmap_sizes) != self.prior_generator.num_levels:
            raise ValueError(f"{len(featmap_sizes)} feature levels but the anchor generator "
                             f"has {self.prior_generator.num_levels}")
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(featmap_sizes, batch_img_metas,
                                                        device=device)
        (anchor_list, labels_list, label_weights_list, bbox_targets_list, _,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                        batch_img_metas, batch_gt_instances_ignore)
        avg_factor = reduce_mean(torch.tensor(avg_factor, dtype=torch.float,
                                              device=device)).item()
        losses_cls, losses_bbox, losses_dfl, weight_sums = multi_apply(
            self.loss_by_feat_single, anchor_list, cls_scores, bbox_preds, labels_list,
            label_weights_list, bbox_targets_list, self.prior_generator.strides,
            avg_factor=avg_factor)
        norm = reduce_mean(sum(weight_sums)).clamp_(min=1).item()
        return dict(loss_cls=losses_cls, loss_bbox=[loss / norm for loss in losses_bbox],
                    loss_dfl=[loss / norm for loss in losses_dfl])

    def _predict_by_feat_single(self, cls_score_list: Sequence[Tensor],
                                bbox_pred_list: Sequence[Tensor],
                                score_factor_list: Sequence[Tensor | None],
                                mlvl_priors: Sequence[Tensor], img_meta: dict,
                                cfg: Mapping | None, rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """Distances are the distributions' expectations times the level's stride, from
        the anchor centres."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get("nms_pre", -1)
        mlvl_bboxes, mlvl_scores, mlvl_labels = [], [], []
        for cls_score, bbox_pred, stride, priors in zip(
                cls_score_list, bbox_pred_list, self.prior_generator.strides, mlvl_priors):
            if stride[0] != stride[1]:
                raise ValueError(f"GFLHead needs square strides, got {stride}")
            bbox_pred = self.integral(bbox_pred.permute(1, 2, 0)) * stride[0]
            scores = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels).sigmoid()
            scores, labels, _, kept = filter_scores_and_topk(
                scores, cfg["score_thr"], nms_pre, dict(bbox_pred=bbox_pred, priors=priors))
            mlvl_bboxes.append(self.bbox_coder.decode(self.anchor_center(kept["priors"]),
                                                      kept["bbox_pred"],
                                                      max_shape=img_meta["img_shape"]))
            mlvl_scores.append(scores)
            mlvl_labels.append(labels)
        results = InstanceData(bboxes=torch.cat(mlvl_bboxes), scores=torch.cat(mlvl_scores),
                               labels=torch.cat(mlvl_labels))
        return self._bbox_post_process(results, cfg, rescale=rescale, with_nms=with_nms,
                                       img_meta=img_meta)
