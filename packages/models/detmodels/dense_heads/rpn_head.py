"""RPNHead: the region proposal network of two-stage detectors: objectness and box deltas
per anchor, proposals ranked per level and merged by NMS within each level."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detcore.structures import InstanceData
from detcore.structures.bbox import cat_boxes, empty_box_as, get_box_tensor, get_box_wh, scale_boxes

from ..bricks import ConvModule
from ..utils import batched_nms_from_cfg
from .anchor_head import AnchorHead


class RPNHead(AnchorHead):
    """Args:
        in_channels: channels of each input level.
        num_classes: must be 1 (object vs background).
        num_convs: 3x3 convs before the two 1x1 predictors (one plain conv when 1,
            ConvModules when more).
        Everything else goes to AnchorHead.

    Proposals are labelled 0; ``test_cfg`` (or the ``cfg`` given to predict_by_feat, such as
    the detector's ``train_cfg.rpn_proposal``) sets nms_pre, nms, max_per_img, min_bbox_size.
    """

    def __init__(self, in_channels: int, num_classes: int = 1,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01),
                 num_convs: int = 1, **kwargs) -> None:
        if num_classes != 1:
            raise ValueError(f"RPNHead predicts objectness only: num_classes must be 1, "
                             f"got {num_classes}")
        self.num_convs = num_convs
        super().__init__(num_classes=num_classes, in_channels=in_channels, init_cfg=init_cfg,
                         **kwargs)

    def _init_layers(self) -> None:
        if self.num_convs > 1:
            self.rpn_conv = nn.Sequential(*(
                ConvModule(self.in_channels if i == 0 else self.feat_channels,
                           self.feat_channels, 3, padding=1, inplace=False)
                for i in range(self.num_convs)))
        else:
            self.rpn_conv = nn.Conv2d(self.in_channels, self.feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(self.feat_channels,
                                 self.num_base_priors * self.cls_out_channels, 1)
        self.rpn_reg = nn.Conv2d(self.feat_channels,
                                 self.num_base_priors * self.bbox_coder.encode_size, 1)

    def forward_single(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.relu(self.rpn_conv(x))
        return self.rpn_cls(x), self.rpn_reg(x)

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence[InstanceData | None] | None = None
                     ) -> dict[str, list[Tensor]]:
        """``loss_rpn_cls`` and ``loss_rpn_bbox``, each a list over levels."""
        losses = super().loss_by_feat(cls_scores, bbox_preds, batch_gt_instances,
                                      batch_img_metas, batch_gt_instances_ignore)
        return dict(loss_rpn_cls=losses["loss_cls"], loss_rpn_bbox=losses["loss_bbox"])

    def _predict_by_feat_single(self, cls_score_list: Sequence[Tensor],
                                bbox_pred_list: Sequence[Tensor],
                                score_factor_list: Sequence[Tensor | None],
                                mlvl_priors: Sequence[Tensor], img_meta: dict,
                                cfg: Mapping | None, rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """Top ``nms_pre`` anchors of each level by objectness, decoded."""
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get("nms_pre", -1)
        box_dim = self.bbox_coder.encode_size
        mlvl_bbox_preds, mlvl_priors_kept, mlvl_scores, level_ids = [], [], [], []
        for level_idx, (cls_score, bbox_pred, priors) in enumerate(
                zip(cls_score_list, bbox_pred_list, mlvl_priors)):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, box_dim)
            scores = self._scores_from_logits(
                cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)).reshape(-1)
            if 0 < nms_pre < scores.shape[0]:
                scores, order = scores.sort(descending=True)
                scores, top = scores[:nms_pre], order[:nms_pre]
                bbox_pred, priors = bbox_pred[top], priors[top]
            mlvl_bbox_preds.append(bbox_pred)
            mlvl_priors_kept.append(priors)
            mlvl_scores.append(scores)
            level_ids.append(scores.new_full((scores.size(0),), level_idx, dtype=torch.long))
        bboxes = self.bbox_coder.decode(cat_boxes(mlvl_priors_kept), torch.cat(mlvl_bbox_preds),
                                        max_shape=img_meta["img_shape"])
        results = InstanceData(bboxes=bboxes, scores=torch.cat(mlvl_scores),
                               level_ids=torch.cat(level_ids))
        return self._bbox_post_process(results, cfg, rescale=rescale, img_meta=img_meta)

    def _bbox_post_process(self, results: InstanceData, cfg: Mapping, rescale: bool = False,
                           with_nms: bool = True, img_meta: dict | None = None) -> InstanceData:
        """Rescale, drop small boxes, NMS within each level, keep ``max_per_img``."""
        if not with_nms:
            raise ValueError("RPNHead always applies NMS: with_nms must be True")
        if rescale:
            if img_meta is None or img_meta.get("scale_factor") is None:
                raise KeyError("rescale=True needs 'scale_factor' in the image metainfo")
            results.bboxes = scale_boxes(results.bboxes,
                                         [1 / s for s in img_meta["scale_factor"]])
        min_bbox_size = cfg.get("min_bbox_size", -1)
        if min_bbox_size >= 0:
            w, h = get_box_wh(results.bboxes)
            valid = (w > min_bbox_size) & (h > min_bbox_size)
            if not valid.all():
                results = results[valid]
        if results.bboxes.numel() == 0:
            return InstanceData(bboxes=empty_box_as(results.bboxes),
                                scores=results.scores.new_zeros(0),
                                labels=results.scores.new_zeros(0, dtype=torch.long))
        keep = batched_nms_from_cfg(get_box_tensor(results.bboxes), results.scores,
                                    results.level_ids, cfg["nms"])
        results = results[keep][:cfg["max_per_img"]]
        results.labels = results.scores.new_zeros(len(results), dtype=torch.long)
        del results.level_ids
        return results
