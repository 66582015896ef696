"""FCOSHead (Tian et al., FCOS: Fully Convolutional One-Stage Object Detection): every
location inside a gt box (or near its centre with center_sampling), whose largest distance
to the box's sides falls in its level's regress range, predicts that box's class and its
distances (left, top, right, bottom); a centerness branch down-weights off-centre boxes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS
from detcore.structures import InstanceData

from ..bricks import Scale
from ..task_modules.utils import multi_apply
from ..utils import reduce_mean
from .anchor_free_head import AnchorFreeHead

INF = 1e8


class FCOSHead(AnchorFreeHead):
    """Args: as AnchorFreeHead, plus
        regress_ranges: per level, the (min, max) of a location's largest distance to the
            box sides for it to regress that box.
        center_sampling, center_sample_radius: positives only within radius * stride of the
            box centre (clipped to the box).
        norm_on_bbox: distances are divided by the level's stride and predicted through
            ReLU (FCOS v2 "tricks") instead of exp.
        centerness_on_reg: centerness from the box tower instead of the class tower.
        loss_centerness: MODELS config (binary cross-entropy).
        norm_cfg: of the towers (GroupNorm 32 by default).
    """

    def __init__(self, num_classes: int, in_channels: int,
                 regress_ranges: Sequence[tuple[float, float]] = ((-1, 64), (64, 128),
                                                                  (128, 256), (256, 512),
                                                                  (512, INF)),
                 center_sampling: bool = False, center_sample_radius: float = 1.5,
                 norm_on_bbox: bool = False, centerness_on_reg: bool = False,
                 loss_cls: Mapping = dict(type="FocalLoss", use_sigmoid=True, gamma=2.0,
                                          alpha=0.25, loss_weight=1.0),
                 loss_bbox: Mapping = dict(type="IoULoss", loss_weight=1.0),
                 loss_centerness: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,
                                                 loss_weight=1.0),
                 norm_cfg: Mapping | None = dict(type="GN", num_groups=32,  # noqa: B006
                                                 requires_grad=True),
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01,
                     override=dict(type="Normal", name="conv_cls", std=0.01, bias_prob=0.01)),
                 **kwargs) -> None:
        if kwargs.get("cls_predictor_cfg") is not None:
            raise NotImplementedError("FCOSHead: cls_predictor_cfg (NormedConv2d) is not "
                                      "supported")
        kwargs.pop("cls_predictor_cfg", None)
        self.regress_ranges = regress_ranges
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        super().__init__(num_classes=num_classes, in_channels=in_channels, loss_cls=loss_cls,
                         loss_bbox=loss_bbox, norm_cfg=norm_cfg, init_cfg=init_cfg, **kwargs)
        self.loss_centerness = MODELS.build(loss_centerness)

    def _init_layers(self) -> None:
        super()._init_layers()
        self.conv_centerness = nn.Conv2d(self.feat_channels, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per level: class scores (B, C, H, W), distances (B, 4, H, W) (in pixels, or in
        strides while training with norm_on_bbox), centerness logits (B, 1, H, W)."""
        return multi_apply(self.forward_single, x, self.scales, self.strides)

    def forward_single(self, x: Tensor, scale: Scale, stride: int
                       ) -> tuple[Tensor, Tensor, Tensor]:
        cls_score, bbox_pred, cls_feat, reg_feat = super().forward_single(x)
        centerness = self.conv_centerness(reg_feat if self.centerness_on_reg else cls_feat)
        bbox_pred = scale(bbox_pred).float()
        if self.norm_on_bbox:
            bbox_pred = bbox_pred.clamp(min=0)
            if not self.training:
                bbox_pred = bbox_pred * stride
        else:
            bbox_pred = bbox_pred.exp()
        return cls_score, bbox_pred, centerness

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     centernesses: Sequence[Tensor], batch_gt_instances: Sequence[InstanceData],
                     batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence | None = None) -> dict[str, Tensor]:
        """Focal loss over all locations (normalised by the positives), IoU loss of the
        positives weighted by their centerness targets, centerness BCE."""
        if not len(cls_scores) == len(bbox_preds) == len(centernesses):
            raise ValueError(f"{len(cls_scores)} cls_scores, {len(bbox_preds)} bbox_preds and "
                             f"{len(centernesses)} centernesses levels")
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        points = self.prior_generator.grid_priors(featmap_sizes, dtype=bbox_preds[0].dtype,
                                                  device=bbox_preds[0].device)
        labels, bbox_targets = self.get_targets(points, batch_gt_instances)
        num_imgs = cls_scores[0].size(0)
        flat_cls_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
                                     for s in cls_scores])
        flat_bbox_preds = torch.cat([p.permute(0, 2, 3, 1).reshape(-1, 4) for p in bbox_preds])
        flat_centerness = torch.cat([c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses])
        flat_labels = torch.cat(labels)
        flat_bbox_targets = torch.cat(bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])

        pos_inds = ((flat_labels >= 0) & (flat_labels < self.num_classes)).nonzero().reshape(-1)
        num_pos = max(reduce_mean(flat_cls_scores.new_tensor(float(len(pos_inds)))), 1.0)
        loss_cls = self.loss_cls(flat_cls_scores, flat_labels, avg_factor=num_pos)

        pos_bbox_preds = flat_bbox_preds[pos_inds]
        pos_centerness = flat_centerness[pos_inds]
        pos_bbox_targets = flat_bbox_targets[pos_inds]
        pos_centerness_targets = self.centerness_target(pos_bbox_targets)
        centerness_denorm = max(reduce_mean(pos_centerness_targets.sum().detach()), 1e-6)
        if len(pos_inds) > 0:
            pos_points = flat_points[pos_inds]
            loss_bbox = self.loss_bbox(self.bbox_coder.decode(pos_points, pos_bbox_preds),
                                       self.bbox_coder.decode(pos_points, pos_bbox_targets),
                                       weight=pos_centerness_targets,
                                       avg_factor=centerness_denorm)
            loss_centerness = self.loss_centerness(pos_centerness, pos_centerness_targets,
                                                   avg_factor=num_pos)
        else:  # zero losses that still reach the predictors
            loss_bbox = pos_bbox_preds.sum()
            loss_centerness = pos_centerness.sum()
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_centerness=loss_centerness)

    def get_targets(self, points: Sequence[Tensor], batch_gt_instances: Sequence[InstanceData]
                    ) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: labels (B*N_level,) (num_classes = background) and distance targets
        (B*N_level, 4), images concatenated in batch order."""
        if len(points) != len(self.regress_ranges):
            raise ValueError(f"{len(points)} point levels but {len(self.regress_ranges)} "
                             "regress_ranges")
        num_points = [p.size(0) for p in points]
        regress_ranges = torch.cat([p.new_tensor(r)[None].expand_as(p)
                                    for p, r in zip(points, self.regress_ranges)])
        labels_list, bbox_targets_list = multi_apply(
            self._get_targets_single, batch_gt_instances, points=torch.cat(points),
            regress_ranges=regress_ranges, num_points_per_lvl=num_points)
        labels_list = [labels.split(num_points) for labels in labels_list]
        bbox_targets_list = [targets.split(num_points) for targets in bbox_targets_list]
        level_labels, level_targets = [], []
        for level, stride in enumerate(self.strides):
            level_labels.append(torch.cat([labels[level] for labels in labels_list]))
            targets = torch.cat([targets[level] for targets in bbox_targets_list])
            level_targets.append(targets / stride if self.norm_on_bbox else targets)
        return level_labels, level_targets

    def _get_targets_single(self, gt_instances: InstanceData, points: Tensor,
                            regress_ranges: Tensor, num_points_per_lvl: Sequence[int]
                            ) -> tuple[Tensor, Tensor]:
        """One image: (N, 2) points -> labels (N,), distances (N, 4) to the smallest gt
        box that claims each point."""
        num_points, num_gts = points.size(0), len(gt_instances)
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        if num_gts == 0:
            return (gt_labels.new_full((num_points,), self.num_classes),
                    gt_bboxes.new_zeros((num_points, 4)))
        areas = ((gt_bboxes[:, 2] - gt_bboxes[:, 0])
                 * (gt_bboxes[:, 3] - gt_bboxes[:, 1]))[None].repeat(num_points, 1)
        regress_ranges = regress_ranges[:, None, :].expand(num_points, num_gts, 2)
        gt_bboxes = gt_bboxes[None].expand(num_points, num_gts, 4)
        xs = points[:, 0, None].expand(num_points, num_gts)
        ys = points[:, 1, None].expand(num_points, num_gts)
        bbox_targets = torch.stack((xs - gt_bboxes[..., 0], ys - gt_bboxes[..., 1],
                                    gt_bboxes[..., 2] - xs, gt_bboxes[..., 3] - ys), -1)
        if self.center_sampling:
            # (N, 1) radius in pixels of each point's level
            radius = torch.cat([points.new_full((n, 1), stride * self.center_sample_radius)
                                for n, stride in zip(num_points_per_lvl, self.strides)])
            center_xs = (gt_bboxes[..., 0] + gt_bboxes[..., 2]) / 2
            center_ys = (gt_bboxes[..., 1] + gt_bboxes[..., 3]) / 2
            center_box = torch.stack((torch.maximum(center_xs - radius, gt_bboxes[..., 0]),
                                      torch.maximum(center_ys - radius, gt_bboxes[..., 1]),
                                      torch.minimum(center_xs + radius, gt_bboxes[..., 2]),
                                      torch.minimum(center_ys + radius, gt_bboxes[..., 3])), -1)
            center_dist = torch.stack((xs - center_box[..., 0], ys - center_box[..., 1],
                                       center_box[..., 2] - xs, center_box[..., 3] - ys), -1)
            inside_gt_bbox_mask = center_dist.min(-1)[0] > 0
        else:
            inside_gt_bbox_mask = bbox_targets.min(-1)[0] > 0
        max_regress_distance = bbox_targets.max(-1)[0]
        inside_regress_range = ((max_regress_distance >= regress_ranges[..., 0])
                                & (max_regress_distance <= regress_ranges[..., 1]))
        areas[~inside_gt_bbox_mask] = INF
        areas[~inside_regress_range] = INF
        min_area, min_area_inds = areas.min(dim=1)
        labels = gt_labels[min_area_inds]
        labels[min_area == INF] = self.num_classes
        bbox_targets = bbox_targets[torch.arange(num_points, device=points.device), min_area_inds]
        return labels, bbox_targets

    @staticmethod
    def centerness_target(pos_bbox_targets: Tensor) -> Tensor:
        """(P, 4) (left, top, right, bottom) -> (P,) sqrt(min/max(l, r) * min/max(t, b))."""
        left_right = pos_bbox_targets[:, [0, 2]]
        top_bottom = pos_bbox_targets[:, [1, 3]]
        if len(left_right) == 0:
            return left_right[..., 0]
        return torch.sqrt(left_right.min(dim=-1)[0] / left_right.max(dim=-1)[0]
                          * (top_bottom.min(dim=-1)[0] / top_bottom.max(dim=-1)[0]))
