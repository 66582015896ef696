"""ATSSHead (Zhang et al., Bridging the Gap Between Anchor-based and Anchor-free Detection
via Adaptive Training Sample Selection): one anchor per location, positives chosen by the
ATSS assigner from each level's closest anchors, a centerness branch as in FCOS, and
decoded-box (GIoU) regression. LevelAssignedAnchorHead holds the target computation it
shares with GFLHead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS
from detcore.structures import InstanceData
from detcore.structures.bbox import get_box_tensor

from ..bricks import ConvModule, Scale
from ..task_modules.prior_generators.utils import anchor_inside_flags
from ..task_modules.utils import images_to_levels, multi_apply, unmap
from ..utils import reduce_mean
from .anchor_head import AnchorHead


class LevelAssignedAnchorHead(AnchorHead):
    """An AnchorHead whose assigner needs the number of anchors on each level (ATSS), and
    whose box targets are the gt boxes themselves (regression on decoded boxes)."""

    def get_targets(self, anchor_list: Sequence[Sequence[Tensor]],
                    valid_flag_list: Sequence[Sequence[Tensor]],
                    batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                    batch_gt_instances_ignore: Sequence[InstanceData | None] | None = None,
                    unmap_outputs: bool = True) -> tuple:
        """Per level (each (B, N_level, ...)): anchors, labels, label weights, box targets
        (xyxy gt boxes), box weights; then avg_factor (the samplers' sum)."""
        num_imgs = len(batch_img_metas)
        if not len(anchor_list) == len(valid_flag_list) == num_imgs:
            raise ValueError(f"{len(anchor_list)} anchor lists and {len(valid_flag_list)} "
                             f"flag lists for {num_imgs} images")
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        if batch_gt_instances_ignore is None:
            batch_gt_instances_ignore = [None] * num_imgs
        results = multi_apply(self._get_targets_single,
                              [torch.cat(anchors) for anchors in anchor_list],
                              [torch.cat(flags) for flags in valid_flag_list],
                              [num_level_anchors] * num_imgs, batch_gt_instances,
                              batch_img_metas, batch_gt_instances_ignore,
                              unmap_outputs=unmap_outputs)
        avg_factor = sum(result.avg_factor for result in results[7])
        self._raw_positive_infos.update(sampling_results=results[7])
        return (*(images_to_levels(t, num_level_anchors) for t in results[:5]), avg_factor)

    def _get_targets_single(self, flat_anchors: Tensor, valid_flags: Tensor,
                            num_level_anchors: Sequence[int], gt_instances: InstanceData,
                            img_meta: dict, gt_instances_ignore: InstanceData | None = None,
                            unmap_outputs: bool = True) -> tuple:
        """One image: anchors, labels, label weights, box targets, box weights (one row per
        anchor), pos/neg indices and the sampling result."""
        inside_flags = anchor_inside_flags(flat_anchors, valid_flags, img_meta["img_shape"][:2],
                                           self.train_cfg["allowed_border"])
        if not inside_flags.any():
            raise ValueError("There is no valid anchor inside the image boundary. Check the "
                             "image size and anchor sizes, or set allowed_border=-1 in "
                             "train_cfg to skip this condition.")
        anchors = flat_anchors[inside_flags]
        num_level_anchors_inside = self.get_num_level_anchors_inside(num_level_anchors,
                                                                     inside_flags)
        pred_instances = InstanceData(priors=anchors)
        assign_result = self.assigner.assign(pred_instances, num_level_anchors_inside,
                                             gt_instances, gt_instances_ignore)
        sampling_result = self.sampler.sample(assign_result, pred_instances, gt_instances)

        num_valid = anchors.shape[0]
        bbox_targets = torch.zeros_like(anchors)
        bbox_weights = torch.zeros_like(anchors)
        labels = anchors.new_full((num_valid,), self.num_classes, dtype=torch.long)
        label_weights = anchors.new_zeros(num_valid, dtype=torch.float)
        pos_inds, neg_inds = sampling_result.pos_inds, sampling_result.neg_inds
        if len(pos_inds) > 0:
            if self.reg_decoded_bbox:
                bbox_targets[pos_inds] = get_box_tensor(sampling_result.pos_gt_bboxes)
            else:
                bbox_targets[pos_inds] = self.bbox_coder.encode(sampling_result.pos_priors,
                                                                sampling_result.pos_gt_bboxes)
            bbox_weights[pos_inds] = 1.0
            labels[pos_inds] = sampling_result.pos_gt_labels
            pos_weight = self.train_cfg["pos_weight"]
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        if unmap_outputs:
            total = flat_anchors.size(0)
            anchors = unmap(anchors, total, inside_flags)
            labels = unmap(labels, total, inside_flags, fill=self.num_classes)
            label_weights = unmap(label_weights, total, inside_flags)
            bbox_targets = unmap(bbox_targets, total, inside_flags)
            bbox_weights = unmap(bbox_weights, total, inside_flags)
        return (anchors, labels, label_weights, bbox_targets, bbox_weights, pos_inds, neg_inds,
                sampling_result)

    @staticmethod
    def get_num_level_anchors_inside(num_level_anchors: Sequence[int],
                                     inside_flags: Tensor) -> list[int]:
        """How many of each level's anchors are inside the image."""
        return [int(flags.sum()) for flags in torch.split(inside_flags, list(num_level_anchors))]


class ATSSHead(LevelAssignedAnchorHead):
    """Args: as AnchorHead, plus
        pred_kernel_size: kernel of the three predictors ``atss_cls``, ``atss_reg``,
            ``atss_centerness``.
        stacked_convs, conv_cfg, norm_cfg: the towers (GroupNorm 32 by default).
        reg_decoded_bbox: True: the box loss compares decoded boxes.
        loss_centerness: MODELS config (binary cross-entropy).
    """

    def __init__(self, num_classes: int, in_channels: int, pred_kernel_size: int = 3,
                 stacked_convs: int = 4, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = dict(type="GN", num_groups=32,  # noqa: B006
                                                 requires_grad=True),
                 reg_decoded_bbox: bool = True,
                 loss_centerness: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,
                                                 loss_weight=1.0),
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01,
                     override=dict(type="Normal", name="atss_cls", std=0.01, bias_prob=0.01)),
                 **kwargs) -> None:
        self.pred_kernel_size = pred_kernel_size
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         reg_decoded_bbox=reg_decoded_bbox, init_cfg=init_cfg, **kwargs)
        self.sampling = False
        self.loss_centerness = MODELS.build(loss_centerness)

    def _init_layers(self) -> None:
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        for i in range(self.stacked_convs):
            channels = self.in_channels if i == 0 else self.feat_channels
            for tower in (self.cls_convs, self.reg_convs):
                tower.append(ConvModule(channels, self.feat_channels, 3, stride=1, padding=1,
                                        conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg))
        pad = self.pred_kernel_size // 2
        self.atss_cls = nn.Conv2d(self.feat_channels,
                                  self.num_base_priors * self.cls_out_channels,
                                  self.pred_kernel_size, padding=pad)
        self.atss_reg = nn.Conv2d(self.feat_channels, self.num_base_priors * 4,
                                  self.pred_kernel_size, padding=pad)
        self.atss_centerness = nn.Conv2d(self.feat_channels, self.num_base_priors,
                                         self.pred_kernel_size, padding=pad)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.prior_generator.strides])

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per level: scores (B, A*C, H, W), deltas (B, A*4, H, W), centerness (B, A, H, W)."""
        return multi_apply(self.forward_single, x, self.scales)

    def forward_single(self, x: Tensor, scale: Scale) -> tuple[Tensor, Tensor, Tensor]:
        cls_feat = reg_feat = x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return (self.atss_cls(cls_feat), scale(self.atss_reg(reg_feat)).float(),
                self.atss_centerness(reg_feat))

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                            centerness: Tensor, labels: Tensor, label_weights: Tensor,
                            bbox_targets: Tensor, avg_factor: float
                            ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One level: class loss, box loss (not yet normalised), centerness loss, and the
        sum of the positives' centerness targets (the box loss's normaliser)."""
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        centerness = centerness.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        loss_cls = self.loss_cls(cls_score, labels, label_weights.reshape(-1),
                                 avg_factor=avg_factor)
        pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        if len(pos_inds) > 0:
            pos_anchors, pos_targets = anchors[pos_inds], bbox_targets[pos_inds]
            centerness_targets = self.centerness_target(pos_anchors, pos_targets)
            loss_bbox = self.loss_bbox(self.bbox_coder.decode(pos_anchors, bbox_pred[pos_inds]),
                                       pos_targets, weight=centerness_targets, avg_factor=1.0)
            loss_centerness = self.loss_centerness(centerness[pos_inds], centerness_targets,
                                                   avg_factor=avg_factor)
        else:  # zero losses that still reach the predictors
            loss_bbox = bbox_pred.sum() * 0
            loss_centerness = centerness.sum() * 0
            centerness_targets = bbox_targets.new_tensor(0.0)
        return loss_cls, loss_bbox, loss_centerness, centerness_targets.sum()

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     centernesses: Sequence[Tensor], batch_gt_instances: Sequence[InstanceData],
                     batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence | None = None) -> dict[str, list[Tensor]]:
        """Per-level ``loss_cls``, ``loss_bbox`` (divided by the total centerness target of
        the positives) and ``loss_centerness``."""
        featmap_sizes = [pred.size()[-2:] for pred in bbox_preds]
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
        losses_cls, losses_bbox, losses_centerness, centerness_sums = multi_apply(
            self.loss_by_feat_single, anchor_list, cls_scores, bbox_preds, centernesses,
            labels_list, label_weights_list, bbox_targets_list, avg_factor=avg_factor)
        bbox_avg_factor = reduce_mean(sum(centerness_sums)).clamp_(min=1).item()
        return dict(loss_cls=losses_cls,
                    loss_bbox=[loss / bbox_avg_factor for loss in losses_bbox],
                    loss_centerness=losses_centerness)

    @staticmethod
    def centerness_target(anchors: Tensor, gts: Tensor) -> Tensor:
        """(P, 4) anchors and their (P, 4) gt boxes -> (P,) FCOS centerness of the anchor
        centres inside the boxes."""
        centre_x = (anchors[:, 2] + anchors[:, 0]) / 2
        centre_y = (anchors[:, 3] + anchors[:, 1]) / 2
        left_right = torch.stack([centre_x - gts[:, 0], gts[:, 2] - centre_x], dim=1)
        top_bottom = torch.stack([centre_y - gts[:, 1], gts[:, 3] - centre_y], dim=1)
        centerness = torch.sqrt(left_right.min(dim=-1)[0] / left_right.max(dim=-1)[0]
                                * (top_bottom.min(dim=-1)[0] / top_bottom.max(dim=-1)[0]))
        if torch.isnan(centerness).any():
            raise ValueError("centerness target is NaN: a positive anchor's centre lies on "
                             "the edge of its gt box")
        return centerness
