"""BBoxHead: per-RoI classification (K + 1 softmax) and class-wise box deltas."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detcore.registry import MODELS, TASK_UTILS
from detcore.structures import InstanceData
from detcore.structures.bbox.transforms import get_box_tensor, scale_boxes

from ...bricks import BaseModule
from ...losses.accuracy import accuracy

_DEFAULT_CODER = dict(type="DeltaXYWHBBoxCoder", clip_border=True,
                      target_means=[0.0, 0.0, 0.0, 0.0], target_stds=[0.1, 0.1, 0.2, 0.2])


def empty_detections(device: torch.device, num_classes: int, score_per_cls: bool) -> InstanceData:
    """Detections of an image without RoIs: (0, 4) boxes, (0,) or (0, K+1) scores, (0,) labels."""
    results = InstanceData()
    results.bboxes = torch.zeros(0, 4, device=device)
    results.scores = torch.zeros((0, num_classes + 1) if score_per_cls else (0,), device=device)
    results.labels = torch.zeros(0, dtype=torch.long, device=device)
    return results


class BBoxHead(BaseModule):
    """The simplest RoI box head: optional average pooling, then ``fc_cls`` and ``fc_reg``.

    ``fc_cls`` scores K + 1 classes (index K is background); ``fc_reg`` predicts 4 deltas
    per class, or 4 in total with ``reg_class_agnostic``.
    """

    def __init__(self, with_avg_pool: bool = False, with_cls: bool = True, with_reg: bool = True,
                 roi_feat_size: int = 7, in_channels: int = 256, num_classes: int = 80,
                 bbox_coder: dict = _DEFAULT_CODER, predict_box_type: str = "hbox",
                 reg_class_agnostic: bool = False, reg_decoded_bbox: bool = False,
                 reg_predictor_cfg: dict | None = None,
                 cls_predictor_cfg: dict | None = None,
                 loss_cls: dict | None = None,
                 loss_bbox: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        if loss_bbox is None:
            loss_bbox = dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0)
        if loss_cls is None:
            loss_cls = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)
        if cls_predictor_cfg is None:
            cls_predictor_cfg = dict(type="Linear")
        if reg_predictor_cfg is None:
            reg_predictor_cfg = dict(type="Linear")
        super().__init__(init_cfg=init_cfg)
        if not (with_cls or with_reg):
            raise ValueError("BBoxHead needs with_cls or with_reg")
        self.with_avg_pool = with_avg_pool
        self.with_cls = with_cls
        self.with_reg = with_reg
        size = roi_feat_size if isinstance(roi_feat_size, Sequence) else (roi_feat_size,) * 2
        self.roi_feat_size = tuple(size)
        self.roi_feat_area = size[0] * size[1]
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.predict_box_type = predict_box_type
        self.reg_class_agnostic = reg_class_agnostic
        self.reg_decoded_bbox = reg_decoded_bbox
        self.reg_predictor_cfg = reg_predictor_cfg
        self.cls_predictor_cfg = cls_predictor_cfg
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)

        if self.with_avg_pool:
            self.avg_pool = nn.AvgPool2d(self.roi_feat_size)
            in_features = in_channels
        else:
            in_features = in_channels * self.roi_feat_area
        self._build_predictors(in_features, in_features)
        if init_cfg is None:
            self.init_cfg = []
            if self.with_cls:
                self.init_cfg.append(dict(type="Normal", std=0.01, override=dict(name="fc_cls")))
            if self.with_reg:
                self.init_cfg.append(dict(type="Normal", std=0.001, override=dict(name="fc_reg")))

    def _build_predictors(self, cls_in_features: int, reg_in_features: int) -> None:
        """(Re)build ``fc_cls`` and ``fc_reg`` on the given input widths."""
        if self.with_cls:
            cls_channels = (self.loss_cls.get_cls_channels(self.num_classes)
                            if self.custom_cls_channels else self.num_classes + 1)
            self.fc_cls = MODELS.build(dict(self.cls_predictor_cfg, in_features=cls_in_features,
                                            out_features=cls_channels))
        if self.with_reg:
            box_dim = self.bbox_coder.encode_size
            out_dim = box_dim if self.reg_class_agnostic else box_dim * self.num_classes
            self.fc_reg = MODELS.build(dict(self.reg_predictor_cfg, in_features=reg_in_features,
                                            out_features=out_dim))

    @property
    def custom_cls_channels(self) -> bool:
        return getattr(self.loss_cls, "custom_cls_channels", False)

    @property
    def custom_activation(self) -> bool:
        return getattr(self.loss_cls, "custom_activation", False)

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(K, C, h, w) RoI features -> (K, num_classes + 1) scores, (K, 4 * num_classes) deltas."""
        if self.with_avg_pool:
            x = self.avg_pool(x).flatten(1) if x.numel() > 0 else x.mean(dim=(-1, -2))
        cls_score = self.fc_cls(x) if self.with_cls else None
        bbox_pred = self.fc_reg(x) if self.with_reg else None
        return cls_score, bbox_pred

    # ---------------------------------------------------------------- training
    def _get_targets_single(self, pos_priors: Tensor, neg_priors: Tensor, pos_gt_bboxes: Tensor,
                            pos_gt_labels: Tensor, cfg) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Targets of one image's samples, positives first: labels (S,) (K = background),
        label weights (S,), box targets and weights (S, 4)."""
        num_pos, num_neg = pos_priors.size(0), neg_priors.size(0)
        num_samples = num_pos + num_neg
        reg_dim = pos_gt_bboxes.size(-1) if self.reg_decoded_bbox else self.bbox_coder.encode_size
        labels = pos_priors.new_full((num_samples,), self.num_classes, dtype=torch.long)
        label_weights = pos_priors.new_zeros(num_samples)
        bbox_targets = pos_priors.new_zeros(num_samples, reg_dim)
        bbox_weights = pos_priors.new_zeros(num_samples, reg_dim)
        if num_pos > 0:
            labels[:num_pos] = pos_gt_labels
            pos_weight = cfg.get("pos_weight", -1)
            label_weights[:num_pos] = 1.0 if pos_weight <= 0 else pos_weight
            bbox_targets[:num_pos] = (get_box_tensor(pos_gt_bboxes) if self.reg_decoded_bbox
                                      else self.bbox_coder.encode(pos_priors, pos_gt_bboxes))
            bbox_weights[:num_pos] = 1
        if num_neg > 0:
            label_weights[-num_neg:] = 1.0
        return labels, label_weights, bbox_targets, bbox_weights

    def get_targets(self, sampling_results: Sequence, rcnn_train_cfg, concat: bool = True) -> tuple:
        """Targets of every image's samples; concatenated over images with ``concat``."""
        per_image = [self._get_targets_single(res.pos_priors, res.neg_priors, res.pos_gt_bboxes,
                                              res.pos_gt_labels, rcnn_train_cfg)
                     for res in sampling_results]
        targets = tuple(list(parts) for parts in zip(*per_image))
        if concat:
            targets = tuple(torch.cat(parts, 0) for parts in targets)
        return targets

    def loss_and_target(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor,
                        sampling_results: Sequence, rcnn_train_cfg, concat: bool = True,
                        reduction_override: str | None = None) -> dict:
        """``dict(loss_bbox=<dict of losses>, bbox_targets=<get_targets' tuple>)``."""
        targets = self.get_targets(sampling_results, rcnn_train_cfg, concat=concat)
        losses = self.loss(cls_score, bbox_pred, rois, *targets,
                           reduction_override=reduction_override)
        return dict(loss_bbox=losses, bbox_targets=targets)

    def loss(self, cls_score: Tensor | None, bbox_pred: Tensor | None, rois: Tensor,
             labels: Tensor, label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor,
             reduction_override: str | None = None) -> dict:
        """loss_cls (averaged over weighted samples), acc, and loss_bbox on the positives'
        deltas of their gt class (averaged over all samples)."""
        losses = {}
        if cls_score is not None and cls_score.numel() > 0:
            avg_factor = max(torch.sum(label_weights > 0).float().item(), 1.0)
            loss_cls = self.loss_cls(cls_score, labels, label_weights, avg_factor=avg_factor,
                                     reduction_override=reduction_override)
            losses.update(loss_cls if isinstance(loss_cls, dict) else dict(loss_cls=loss_cls))
            if self.custom_activation:
                losses.update(self.loss_cls.get_accuracy(cls_score, labels))
            else:
                losses["acc"] = accuracy(cls_score, labels)
        if bbox_pred is not None:
            pos = (labels >= 0) & (labels < self.num_classes)
            if pos.any():
                if self.reg_decoded_bbox:
                    bbox_pred = get_box_tensor(self.bbox_coder.decode(rois[:, 1:], bbox_pred))
                if self.reg_class_agnostic:
                    pos_pred = bbox_pred.view(bbox_pred.size(0), -1)[pos]
                else:
                    pos_pred = bbox_pred.view(bbox_pred.size(0), self.num_classes, -1)[pos, labels[pos]]
                losses["loss_bbox"] = self.loss_bbox(pos_pred, bbox_targets[pos], bbox_weights[pos],
                                                     avg_factor=bbox_targets.size(0),
                                                     reduction_override=reduction_override)
            else:
                losses["loss_bbox"] = bbox_pred[pos].sum()
        return losses

    # --------------------------------------------------------------- inference
    def predict_by_feat(self, rois: Sequence[Tensor], cls_scores: Sequence[Tensor],
                        bbox_preds: Sequence[Tensor | None], batch_img_metas: Sequence[dict],
                        rcnn_test_cfg=None, rescale: bool = False) -> list[InstanceData]:
        """Per-image detections; without ``rcnn_test_cfg`` the raw (K, 4 * C) boxes and
        (K, C + 1) scores (what cascade stages and test-time augmentation merge)."""
        if len(cls_scores) != len(bbox_preds):
            raise ValueError(f"{len(cls_scores)} cls_scores but {len(bbox_preds)} bbox_preds")
        return [self._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta, rescale,
                                             rcnn_test_cfg)
                for roi, cls_score, bbox_pred, img_meta in zip(rois, cls_scores, bbox_preds,
                                                               batch_img_metas)]

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor | None,
                                img_meta: dict, rescale: bool = False,
                                rcnn_test_cfg=None) -> InstanceData:
        if roi.shape[0] == 0:
            return empty_detections(roi.device, self.num_classes, rcnn_test_cfg is None)
        if self.custom_cls_channels:
            scores = self.loss_cls.get_activation(cls_score)
        else:
            scores = F.softmax(cls_score, dim=-1) if cls_score is not None else None
        img_shape = img_meta["img_shape"]
        num_rois = roi.size(0)
        if bbox_pred is not None:
            repeats = 1 if self.reg_class_agnostic else self.num_classes
            bboxes = self.bbox_coder.decode(roi[:, 1:].repeat_interleave(repeats, dim=0),
                                            bbox_pred.view(-1, self.bbox_coder.encode_size),
                                            max_shape=img_shape)
        else:
            bboxes = roi[:, 1:].clone()
            if img_shape is not None:
                bboxes[:, 0::2] = bboxes[:, 0::2].clamp(min=0, max=img_shape[1])
                bboxes[:, 1::2] = bboxes[:, 1::2].clamp(min=0, max=img_shape[0])
        if rescale and bboxes.size(0) > 0:
            if img_meta.get("scale_factor") is None:
                raise KeyError("rescale=True needs 'scale_factor' in the image metainfo")
            bboxes = scale_boxes(bboxes, [1 / s for s in img_meta["scale_factor"]])
        bboxes = get_box_tensor(bboxes).view(num_rois, -1)
        results = InstanceData()
        if rcnn_test_cfg is None:
            results.bboxes = bboxes
            results.scores = scores
            return results
        from detops import multiclass_nms

        dets, labels = multiclass_nms(bboxes, scores, rcnn_test_cfg["score_thr"],
                                      rcnn_test_cfg["nms"], rcnn_test_cfg["max_per_img"])
        results.bboxes = dets[:, :-1]
        results.scores = dets[:, -1]
        results.labels = labels
        return results

    def regress_by_class(self, priors: Tensor, label: Tensor, bbox_pred: Tensor,
                         img_meta: dict) -> Tensor:
        """Decode (K, 4) priors with the deltas of class ``label`` (K,) from (K, 4 * C) preds."""
        reg_dim = self.bbox_coder.encode_size
        if not self.reg_class_agnostic:
            cols = label[:, None] * reg_dim + torch.arange(reg_dim, device=label.device)
            bbox_pred = torch.gather(bbox_pred, 1, cols)
        return self.bbox_coder.decode(priors, bbox_pred, max_shape=img_meta["img_shape"])

    def refine_bboxes(self, sampling_results: Sequence, bbox_results: dict,
                      batch_img_metas: Sequence[dict]) -> list[InstanceData] | None:
        """Regress this stage's sampled RoIs into the next cascade stage's proposals.

        Background samples use the best non-background class; gt boxes added as proposals
        are dropped.
        """
        labels = bbox_results["bbox_targets"][0]
        cls_scores = bbox_results["cls_score"]
        rois = bbox_results["rois"]
        bbox_preds = bbox_results["bbox_pred"]
        if self.custom_activation:
            cls_scores = self.loss_cls.get_activation(cls_scores)
        if cls_scores.numel() == 0:
            return None
        if cls_scores.shape[-1] == self.num_classes + 1:
            cls_scores = cls_scores[:, :-1]
        elif cls_scores.shape[-1] != self.num_classes:
            raise ValueError(f"cls_scores has {cls_scores.shape[-1]} columns; expected "
                             f"num_classes ({self.num_classes}) or num_classes + 1")
        labels = torch.where(labels == self.num_classes, cls_scores.argmax(1), labels)
        results_list = []
        for img_id, (res, img_meta) in enumerate(zip(sampling_results, batch_img_metas)):
            inds = torch.nonzero(rois[:, 0] == img_id, as_tuple=False).squeeze(1)
            bboxes = self.regress_by_class(rois[inds, 1:], labels[inds], bbox_preds[inds], img_meta)
            keep = torch.ones(inds.numel(), dtype=torch.bool, device=rois.device)
            keep[:len(res.pos_is_gt)] = ~res.pos_is_gt.bool()
            results_list.append(InstanceData(bboxes=bboxes[keep]))
        return results_list
