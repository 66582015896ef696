"""YOLOv8's head: decoupled, anchor-free, boxes as distributions over ``reg_max`` bins.

``YOLOv8HeadModule`` is the network: per level two 3x3 convs and a 1x1 prediction conv for
the class logits (B, C, H, W) and, separately, for the box-distribution logits
(B, 4 * reg_max, H, W) (4 sides x reg_max bins, Ultralytics' layout). Those raw outputs
are what ``tensor`` mode returns. The expected distance of each side is the softmax-weighted
mean of the bins 0..reg_max-1 (the "DFL integral"), in units of the level's stride.

``YOLOv8Head`` adds the rest: cell-centre priors (offset 0.5), task-aligned assignment,
the BCE / CIoU / DFL losses and post-processing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS, TASK_UTILS
from detcore.structures.bbox import bbox2distance
from detmodels.bricks import BaseModule, ConvModule
from detyolo.backbones.csp_blocks import YOLO_ACT_CFG, YOLO_NORM_CFG
from detyolo.backbones.scaling import make_divisible
from detyolo.task_modules.gt_batching import pad_gt_instances

from .base_yolo_head import BaseYOLOHead, _build, world_size
from .postprocess import yolo_postprocess


class DistributionIntegral(nn.Module):
    """Expected distance of each side: softmax over the bins, then a frozen 1x1 conv with
    weights 0..reg_max-1 (Ultralytics' DFL layer; its reg_max weights count as parameters,
    as they do in Ultralytics' parameter totals)."""

    def __init__(self, reg_max: int = 16):
        super().__init__()
        self.reg_max = reg_max
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data.copy_(torch.arange(reg_max, dtype=torch.float).view(1, -1, 1, 1))

    def forward(self, dist_logits: Tensor) -> Tensor:
        """(B, 4 * reg_max, A) logits -> (B, 4, A) distances in bins."""
        num_imgs, _, num_priors = dist_logits.shape
        probs = dist_logits.view(num_imgs, 4, self.reg_max, num_priors).transpose(2, 1).softmax(1)
        return self.conv(probs).view(num_imgs, 4, num_priors)


class YOLOv8HeadModule(BaseModule):
    """Args:
        num_classes: number of classes.
        in_channels: channels of each input level before ``widen_factor``.
        featmap_strides: stride of each level.
        reg_max: bins of each side's distance distribution.

    Branch widths follow Ultralytics' Detect: box branch max(16, in[0] / 4, 4 * reg_max),
    class branch max(in[0], min(num_classes, 100)) (MMYOLO omits the 100 cap; they agree
    up to 100 classes).
    """

    def __init__(self, num_classes: int, in_channels: int | Sequence[int],
                 widen_factor: float = 1.0, num_base_priors: int = 1,
                 featmap_strides: Sequence[int] = (8, 16, 32), reg_max: int = 16,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if num_classes < 1:
            raise ValueError(f"YOLOv8HeadModule: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.featmap_strides = tuple(featmap_strides)
        self.num_levels = len(self.featmap_strides)
        self.num_base_priors = num_base_priors
        self.reg_max = reg_max
        if isinstance(in_channels, int):
            in_channels = [in_channels] * self.num_levels
        if len(in_channels) != self.num_levels:
            raise ValueError(f"YOLOv8HeadModule: {len(in_channels)} in_channels for "
                             f"{self.num_levels} featmap_strides")
        self.in_channels = [make_divisible(c, widen_factor) for c in in_channels]
        reg_channels = max(16, self.in_channels[0] // 4, reg_max * 4)
        cls_channels = max(self.in_channels[0], min(num_classes, 100))
        layer = dict(padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.reg_preds = nn.ModuleList(
            nn.Sequential(ConvModule(c, reg_channels, 3, **layer),
                          ConvModule(reg_channels, reg_channels, 3, **layer),
                          nn.Conv2d(reg_channels, 4 * reg_max, 1))
            for c in self.in_channels)
        self.cls_preds = nn.ModuleList(
            nn.Sequential(ConvModule(c, cls_channels, 3, **layer),
                          ConvModule(cls_channels, cls_channels, 3, **layer),
                          nn.Conv2d(cls_channels, num_classes, 1))
            for c in self.in_channels)
        self.integral = DistributionIntegral(reg_max)

    def init_weights(self, prior_prob: float = 0.01) -> None:
        """PyTorch's default conv init; box bias 1, class bias log(5 / C / (640 / s)^2)
        (about 5 objects per 640 image spread over the level's cells)."""
        super().init_weights()
        for branch in (*self.reg_preds, *self.cls_preds):
            for module in branch.modules():
                if isinstance(module, nn.Conv2d):
                    module.reset_parameters()
        for reg_pred, cls_pred, stride in zip(self.reg_preds, self.cls_preds,
                                              self.featmap_strides):
            reg_pred[-1].bias.data.fill_(1.0)
            cls_pred[-1].bias.data.fill_(math.log(5 / self.num_classes / (640 / stride) ** 2))

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: class logits (B, C, H, W) and box-distribution logits (B, 4*reg_max, H, W)."""
        if len(x) != self.num_levels:
            raise ValueError(f"YOLOv8HeadModule expects {self.num_levels} feature maps, got {len(x)}")
        cls_scores = [cls_pred(feat) for cls_pred, feat in zip(self.cls_preds, x)]
        bbox_dist_preds = [reg_pred(feat) for reg_pred, feat in zip(self.reg_preds, x)]
        return cls_scores, bbox_dist_preds


class YOLOv8Head(BaseYOLOHead):
    """YOLOv8 head with MMYOLO's defaults (loss weights cls 0.5, CIoU 7.5, DFL 1.5 / 4,
    i.e. Ultralytics' 0.5 / 7.5 / 1.5 since DFL is averaged over the four sides here).

    train_cfg: ``assigner`` (BatchTaskAlignedAssigner, topk 10, alpha 0.5, beta 6, CIoU).
    test_cfg: multi_label, nms_pre, score_thr, nms=dict(type='nms', iou_threshold), max_per_img.
    """

    def __init__(self, head_module: Mapping,
                 prior_generator: Mapping = dict(type="MlvlPointGenerator", offset=0.5,  # noqa: B006
                                                 strides=(8, 16, 32)),
                 loss_cls: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,  # noqa: B006
                                          reduction="none", loss_weight=0.5),
                 loss_bbox: Mapping = dict(type="YOLOIoULoss", iou_mode="ciou",  # noqa: B006
                                           bbox_format="xyxy", reduction="sum", loss_weight=7.5,
                                           return_iou=False),
                 loss_dfl: Mapping = dict(type="DistributionFocalLoss", reduction="mean",  # noqa: B006
                                          loss_weight=1.5 / 4),
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(head_module, prior_generator, train_cfg, test_cfg, init_cfg)
        self.reg_max = self.head_module.reg_max
        self.loss_cls = _build(MODELS, loss_cls)
        self.loss_bbox = _build(MODELS, loss_bbox)
        self.loss_dfl = _build(MODELS, loss_dfl)
        assigner = self.train_cfg.get("assigner")
        self.assigner = _build(TASK_UTILS, assigner) if assigner is not None else None

    # ------------------------------------------------------------------ decoding
    def decode(self, cls_scores: Sequence[Tensor], bbox_dist_preds: Sequence[Tensor]
               ) -> tuple[Tensor, Tensor, Tensor]:
        """Raw per-level outputs -> (B, A, C) class logits, (B, 4 * reg_max, A) distribution
        logits and (B, A, 4) xyxy boxes in input pixels, levels concatenated."""
        featmap_sizes = [tuple(s.shape[2:]) for s in cls_scores]
        points, strides = self.flat_priors(featmap_sizes, cls_scores[0].dtype, cls_scores[0].device)
        flat_cls = torch.cat([s.flatten(2) for s in cls_scores], 2).transpose(1, 2)
        flat_dist = torch.cat([d.flatten(2) for d in bbox_dist_preds], 2)
        distances = self.head_module.integral(flat_dist).transpose(1, 2) * strides
        bboxes = torch.cat((points - distances[..., :2], points + distances[..., 2:]), -1)
        return flat_cls, flat_dist, bboxes

    # ------------------------------------------------------------------ loss
    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_dist_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence, batch_img_metas: Sequence[Mapping]
                     ) -> dict[str, Tensor]:
        """loss_cls: BCE against the assigner's soft scores; loss_bbox: CIoU of positives;
        loss_dfl: DFL of positives; all divided by the sum of the soft scores and multiplied
        by the number of images (and of processes), as MMYOLO and Ultralytics do."""
        if self.assigner is None:
            raise RuntimeError("YOLOv8Head: train_cfg.assigner is needed to compute losses")
        num_imgs = cls_scores[0].size(0)
        device = cls_scores[0].device
        flat_cls, flat_dist, pred_bboxes = self.decode(cls_scores, bbox_dist_preds)
        points, strides = self.flat_priors([tuple(s.shape[2:]) for s in cls_scores],
                                           cls_scores[0].dtype, device)
        flat_dist = flat_dist.view(num_imgs, 4, self.reg_max, -1).permute(0, 3, 1, 2)

        gt_labels, gt_bboxes, pad_flag = pad_gt_instances(batch_gt_instances, device)
        assigned = self.assigner(pred_bboxes.detach(), flat_cls.detach().sigmoid(), points,
                                 gt_labels, gt_bboxes, pad_flag)
        assigned_scores = assigned["assigned_scores"]
        fg_mask = assigned["fg_mask_pre_prior"]
        scores_sum = assigned_scores.sum().clamp(min=1)

        loss_cls = self.loss_cls(flat_cls, assigned_scores).sum() / scores_sum
        if fg_mask.any():
            bbox_weight = assigned_scores.sum(-1)[fg_mask][:, None]          # (P, 1)
            pos_strides = strides.expand(num_imgs, -1, -1)[fg_mask]         # (P, 1)
            pred_pos = pred_bboxes[fg_mask] / pos_strides
            target_pos = assigned["assigned_bboxes"][fg_mask] / pos_strides
            loss_bbox = self.loss_bbox(pred_pos, target_pos, weight=bbox_weight) / scores_sum
            pos_points = points.expand(num_imgs, -1, -1)[fg_mask] / pos_strides
            target_ltrb = bbox2distance(pos_points, target_pos, self.reg_max - 1, eps=0.01)
            loss_dfl = self.loss_dfl(flat_dist[fg_mask].reshape(-1, self.reg_max),
                                     target_ltrb.reshape(-1),
                                     weight=bbox_weight.expand(-1, 4).reshape(-1),
                                     avg_factor=scores_sum)
        else:
            loss_bbox = loss_dfl = flat_dist.sum() * 0
        scale = num_imgs * world_size()
        return dict(loss_cls=loss_cls * scale, loss_bbox=loss_bbox * scale,
                    loss_dfl=loss_dfl * scale)

    # ------------------------------------------------------------------ predict
    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_dist_preds: Sequence[Tensor],
                        batch_img_metas: Sequence[Mapping], cfg: Mapping | None = None,
                        rescale: bool = True, with_nms: bool = True) -> list:
        cfg = self.test_cfg if cfg is None else cfg
        flat_cls, _, bboxes = self.decode(cls_scores, bbox_dist_preds)
        scores = flat_cls.sigmoid()
        return [yolo_postprocess(b, s, meta, cfg, rescale=rescale, with_nms=with_nms)
                for b, s, meta in zip(bboxes, scores, batch_img_metas)]

