"""YOLOv5's head: coupled, anchor-based, with objectness.

``YOLOv5HeadModule`` is one 1x1 conv per level predicting, for each of the level's
``num_base_priors`` anchors, 4 box offsets, 1 objectness and C class logits. Per level it
returns class logits (B, A*C, H, W), box offsets (B, A*4, H, W) and objectness (B, A, H, W).

Decoding (sigmoid s): centre = cell + 2 s(t_xy) - 0.5 (within (-0.5, 1.5) of the cell),
size = anchor * (2 s(t_wh))^2 (within (0, 4) anchors).

``YOLOv5Head`` matches ground truth to anchors by shape (every anchor whose width and
height ratios to the box are all below ``prior_match_thr``) in the box's own cell and the
two nearest neighbour cells, then sums BCE class, CIoU box and BCE objectness losses (the
objectness target of a positive is its detached CIoU), the objectness loss of each level
weighted by ``obj_level_weights``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS
from detcore.structures.bbox import get_box_tensor
from detmodels.bricks import BaseModule
from detyolo.backbones.scaling import make_divisible

from .base_yolo_head import BaseYOLOHead, _build, world_size
from .postprocess import yolo_postprocess

#: YOLOv5's P5 anchors (w, h) in pixels, per level of stride 8, 16, 32
YOLOV5_P5_ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                     [(116, 90), (156, 198), (373, 326)]]

#: the own cell, then the left, upper, right and lower neighbours (x, y)
NEIGHBOUR_OFFSETS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))


class YOLOv5HeadModule(BaseModule):
    """Args:
        num_classes: number of classes.
        in_channels: per level, before ``widen_factor``.
        num_base_priors: anchors per cell.
        featmap_strides: stride of each level.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int], widen_factor: float = 1.0,
                 num_base_priors: int = 3, featmap_strides: Sequence[int] = (8, 16, 32),
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if num_classes < 1:
            raise ValueError(f"YOLOv5HeadModule: num_classes must be >= 1, got {num_classes}")
        if len(in_channels) != len(featmap_strides):
            raise ValueError(f"YOLOv5HeadModule: {len(in_channels)} in_channels for "
                             f"{len(featmap_strides)} featmap_strides")
        self.num_classes = num_classes
        self.featmap_strides = tuple(featmap_strides)
        self.num_base_priors = num_base_priors
        self.num_out_attrib = 5 + num_classes
        self.in_channels = [make_divisible(c, widen_factor) for c in in_channels]
        self.convs_pred = nn.ModuleList(
            nn.Conv2d(c, num_base_priors * self.num_out_attrib, 1) for c in self.in_channels)

    def init_weights(self) -> None:
        """YOLOv5's prior biases on top of PyTorch's default init: objectness for about 8
        objects per 640 image, classes for a 0.6 probability spread over the classes."""
        super().init_weights()
        for conv, stride in zip(self.convs_pred, self.featmap_strides):
            conv.reset_parameters()
            bias = conv.bias.data.view(self.num_base_priors, -1)
            bias[:, 4] += math.log(8 / (640 / stride) ** 2)
            bias[:, 5:] += math.log(0.6 / (self.num_classes - 0.99))

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per level: class logits (B, A*C, H, W), box offsets (B, A*4, H, W) and objectness
        logits (B, A, H, W), anchor-major."""
        if len(x) != len(self.convs_pred):
            raise ValueError(f"YOLOv5HeadModule expects {len(self.convs_pred)} feature maps, "
                             f"got {len(x)}")
        cls_scores, bbox_preds, objectnesses = [], [], []
        for feat, conv in zip(x, self.convs_pred):
            pred = conv(feat)
            batch, _, height, width = pred.shape
            pred = pred.view(batch, self.num_base_priors, self.num_out_attrib, height, width)
            bbox_preds.append(pred[:, :, :4].reshape(batch, -1, height, width))
            objectnesses.append(pred[:, :, 4:5].reshape(batch, -1, height, width))
            cls_scores.append(pred[:, :, 5:].reshape(batch, -1, height, width))
        return cls_scores, bbox_preds, objectnesses


class YOLOv5Head(BaseYOLOHead):
    """YOLOv5 head. Loss weights as MMYOLO's YOLOv5-s config for 80 classes at 640; its
    configs scale them by the class count, image size and number of levels.

    Args:
        prior_match_thr: a gt matches an anchor when max(w/aw, aw/w, h/ah, ah/h) is below it.
        near_neighbor_thr: a neighbour cell is positive too when the gt centre lies within
            this fraction of a cell from that side.
        obj_level_weights: weight of each level's objectness loss.
    """

    def __init__(self, head_module: Mapping,
                 prior_generator: Mapping = dict(type="YOLOAnchorGenerator",  # noqa: B006
                                                 base_sizes=YOLOV5_P5_ANCHORS,
                                                 strides=(8, 16, 32)),
                 loss_cls: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,  # noqa: B006
                                          reduction="mean", loss_weight=0.5),
                 loss_bbox: Mapping = dict(type="YOLOIoULoss", iou_mode="ciou",  # noqa: B006
                                           bbox_format="xywh", eps=1e-7, reduction="mean",
                                           loss_weight=0.05, return_iou=True),
                 loss_obj: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,  # noqa: B006
                                          reduction="mean", loss_weight=1.0),
                 prior_match_thr: float = 4.0, near_neighbor_thr: float = 0.5,
                 obj_level_weights: Sequence[float] = (4.0, 1.0, 0.4),
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(head_module, prior_generator, train_cfg, test_cfg, init_cfg)
        if len(obj_level_weights) != self.num_levels:
            raise ValueError(f"YOLOv5Head: {len(obj_level_weights)} obj_level_weights for "
                             f"{self.num_levels} levels")
        self.loss_cls = _build(MODELS, loss_cls)
        self.loss_bbox = _build(MODELS, loss_bbox)
        self.loss_obj = _build(MODELS, loss_obj)
        self.prior_match_thr = prior_match_thr
        self.near_neighbor_thr = near_neighbor_thr
        self.obj_level_weights = tuple(obj_level_weights)
        self.num_base_priors = self.head_module.num_base_priors
        base_sizes = torch.tensor(self.prior_generator.base_sizes, dtype=torch.float)
        strides = torch.tensor(self.featmap_strides, dtype=torch.float)[:, None, None]
        # anchor (w, h) in cells of each level: (num_levels, num_base_priors, 2)
        self.register_buffer("priors_base_sizes", base_sizes / strides, persistent=False)
        self.register_buffer("neighbour_offsets", torch.tensor(NEIGHBOUR_OFFSETS, dtype=torch.float),
                             persistent=False)

    # ------------------------------------------------------------------ loss
    def _targets_per_prior(self, batch_gt_instances: Sequence, batch_img_metas: Sequence[Mapping],
                           device: torch.device) -> Tensor:
        """(num_base_priors, G, 7) rows (image, label, cx, cy, w, h, prior index) with boxes
        normalised by the batch input size, one copy per anchor of a level."""
        rows = []
        for index, (gt, meta) in enumerate(zip(batch_gt_instances, batch_img_metas)):
            boxes = get_box_tensor(gt.bboxes).to(device).float().reshape(-1, 4)
            height, width = meta["batch_input_shape"]
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2
            size = boxes[:, 2:] - boxes[:, :2]
            scale = boxes.new_tensor([width, height])
            rows.append(torch.cat([boxes.new_full((len(boxes), 1), index),
                                   gt.labels.to(device).float().reshape(-1, 1),
                                   centre / scale, size / scale], 1))
        targets = torch.cat(rows) if rows else torch.zeros(0, 6, device=device)
        prior_index = torch.arange(self.num_base_priors, device=device, dtype=torch.float)
        prior_index = prior_index.view(-1, 1, 1).expand(-1, len(targets), 1)
        return torch.cat([targets.expand(self.num_base_priors, -1, -1), prior_index], 2)

    def _decode_xywh(self, bbox_pred: Tensor, prior_sizes: Tensor) -> Tensor:
        """(P, 4) raw offsets of positives -> (P, 4) (cx, cy) relative to the cell and (w, h)
        in cells."""
        bbox_pred = bbox_pred.sigmoid()
        return torch.cat([bbox_pred[:, :2] * 2 - 0.5, (bbox_pred[:, 2:] * 2) ** 2 * prior_sizes], 1)

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     objectnesses: Sequence[Tensor], batch_gt_instances: Sequence,
                     batch_img_metas: Sequence[Mapping]) -> dict[str, Tensor]:
        """loss_cls, loss_bbox (CIoU) and loss_obj, each summed over levels and multiplied by
        the number of images (and of processes), as MMYOLO does."""
        device = cls_scores[0].device
        batch_size = cls_scores[0].shape[0]
        targets = self._targets_per_prior(batch_gt_instances, batch_img_metas, device)
        loss_cls = loss_bbox = loss_obj = cls_scores[0].new_zeros(())
        for level, (cls_score, bbox_pred, objectness) in enumerate(
                zip(cls_scores, bbox_preds, objectnesses)):
            height, width = bbox_pred.shape[2:]
            target_obj = torch.zeros_like(objectness)
            positives = self._positives(targets, level, width, height)
            if positives is None:
                loss_bbox = loss_bbox + bbox_pred.sum() * 0
                loss_cls = loss_cls + cls_score.sum() * 0
                loss_obj = loss_obj + self.loss_obj(objectness, target_obj) * self.obj_level_weights[level]
                continue
            img, label, prior, grid_x, grid_y, box_target = positives
            per_anchor = bbox_pred.view(batch_size, self.num_base_priors, 4, height, width)
            decoded = self._decode_xywh(per_anchor[img, prior, :, grid_y, grid_x],
                                        self.priors_base_sizes[level][prior])
            level_loss_bbox, iou = self.loss_bbox(decoded, box_target)
            loss_bbox = loss_bbox + level_loss_bbox
            target_obj[img, prior, grid_y, grid_x] = iou.detach().clamp(min=0).to(target_obj.dtype)
            loss_obj = loss_obj + self.loss_obj(objectness, target_obj) * self.obj_level_weights[level]
            if self.num_classes > 1:
                logits = cls_score.view(batch_size, self.num_base_priors, self.num_classes,
                                        height, width)[img, prior, :, grid_y, grid_x]
                target_cls = torch.zeros_like(logits)
                target_cls[torch.arange(len(label), device=device), label] = 1.0
                loss_cls = loss_cls + self.loss_cls(logits, target_cls)
            else:  # one class: objectness says it all
                loss_cls = loss_cls + cls_score.sum() * 0
        scale = batch_size * world_size()
        return dict(loss_cls=loss_cls * scale, loss_obj=loss_obj * scale,
                    loss_bbox=loss_bbox * scale)

    def _positives(self, targets: Tensor, level: int, width: int, height: int):
        """Positive (gt, anchor, cell) triples of one level, or None: image, label and anchor
        indices, cell x and y, and the (P, 4) box target (cx, cy relative to the cell, w, h in
        cells)."""
        if targets.shape[1] == 0:
            return None
        scaled = targets * targets.new_tensor([1, 1, width, height, width, height, 1])
        ratio = scaled[..., 4:6] / self.priors_base_sizes[level][:, None]
        matched = scaled[torch.max(ratio, 1 / ratio).amax(2) < self.prior_match_thr]  # (M, 7)
        if len(matched) == 0:
            return None
        centre = matched[:, 2:4]
        from_far_side = matched.new_tensor([width, height]) - centre
        thr = self.near_neighbor_thr
        left_up = (centre % 1 < thr) & (centre > 1)
        right_down = (from_far_side % 1 < thr) & (from_far_side > 1)
        use = torch.cat([torch.ones_like(left_up[:, :1]), left_up, right_down], 1).T  # (5, M)
        repeated = matched[None].expand(len(NEIGHBOUR_OFFSETS), -1, -1)[use]
        offsets = self.neighbour_offsets[:, None].expand(-1, len(matched), -1)[use]
        centre = repeated[:, 2:4]
        cell = (centre - offsets * thr).long()
        img, label, prior = repeated[:, 0].long(), repeated[:, 1].long(), repeated[:, 6].long()
        box_target = torch.cat([centre - cell, repeated[:, 4:6]], 1)
        return img, label, prior, cell[:, 0], cell[:, 1], box_target

    # ------------------------------------------------------------------ predict
    def decode(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
               objectnesses: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, C) class probabilities, (B, N, 4) xyxy boxes and (B, N) objectness
        probabilities, N = sum of H * W * A, cell-major as the anchor generator orders them."""
        num_imgs = cls_scores[0].shape[0]
        featmap_sizes = [tuple(s.shape[2:]) for s in cls_scores]
        anchors, strides = self.flat_priors(featmap_sizes, cls_scores[0].dtype, cls_scores[0].device)

        def flat(outputs, channels):
            return torch.cat([o.view(num_imgs, self.num_base_priors, channels, -1)
                              .permute(0, 3, 1, 2).reshape(num_imgs, -1, channels)
                              for o in outputs], 1)

        offsets = flat(bbox_preds, 4).sigmoid()
        anchor_centre = (anchors[:, :2] + anchors[:, 2:]) / 2
        anchor_size = anchors[:, 2:] - anchors[:, :2]
        centre = anchor_centre + (offsets[..., :2] - 0.5) * 2 * strides
        size = (offsets[..., 2:] * 2) ** 2 * anchor_size
        bboxes = torch.cat([centre - size / 2, centre + size / 2], -1)
        return flat(cls_scores, self.num_classes).sigmoid(), bboxes, flat(objectnesses, 1)[..., 0].sigmoid()

    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        objectnesses: Sequence[Tensor], batch_img_metas: Sequence[Mapping],
                        cfg: Mapping | None = None, rescale: bool = True,
                        with_nms: bool = True) -> list:
        cfg = self.test_cfg if cfg is None else cfg
        scores, bboxes, objectness = self.decode(cls_scores, bbox_preds, objectnesses)
        return [yolo_postprocess(b, s, meta, cfg, objectness=o, rescale=rescale, with_nms=with_nms)
                for b, s, o, meta in zip(bboxes, scores, objectness, batch_img_metas)]

