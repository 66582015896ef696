"""BaseDenseHead: what every dense (per-location) head shares: the loss / predict entry
points and the post-processing that turns per-level maps into detections."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from detcore.structures import InstanceData
from detcore.structures.bbox import cat_boxes, get_box_tensor, get_box_wh, scale_boxes

from ..bricks import BaseModule, constant_init
from ..task_modules.utils import filter_scores_and_topk, select_single_mlvl
from ..utils import batched_nms_from_cfg, unpack_gt_instances


class BaseDenseHead(BaseModule):
    """Subclasses give ``forward`` (features -> tuple of per-level outputs),
    ``loss_by_feat`` and, when their outputs differ from (cls_scores, bbox_preds
    [, score_factors]), ``predict_by_feat``; they own ``prior_generator``, ``bbox_coder``,
    ``cls_out_channels``, ``use_sigmoid_cls``, ``loss_cls`` and ``test_cfg``.

    Post-processing (``test_cfg`` keys): ``nms_pre`` best (prior, class) pairs per level
    above ``score_thr``, decode, optional rescale to the original image (``scale_factor``
    of the metainfo), score factors multiplied in, boxes not wider and taller than
    ``min_bbox_size`` dropped, class-wise ``nms``, ``max_per_img`` kept.
    """

    def __init__(self, init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # sampling results of the last loss computation, for heads that need positives
        self._raw_positive_infos: dict = {}

    def init_weights(self) -> None:
        super().init_weights()
        # deformable convs start as plain convs: zero offsets
        for module in self.modules():
            if hasattr(module, "conv_offset"):
                constant_init(module.conv_offset, 0)

    def get_positive_infos(self) -> list[InstanceData] | None:
        """Positive samples of the last ``loss`` call, one InstanceData per image
        (bboxes, labels, priors, pos_assigned_gt_inds, pos_inds), or None."""
        sampling_results = self._raw_positive_infos.get("sampling_results")
        if sampling_results is None:
            return None
        return [InstanceData(bboxes=result.pos_gt_bboxes, labels=result.pos_gt_labels,
                             priors=result.pos_priors,
                             pos_assigned_gt_inds=result.pos_assigned_gt_inds,
                             pos_inds=result.pos_inds)
                for result in sampling_results]

    def loss(self, x: Sequence[Tensor], batch_data_samples: Sequence) -> dict:
        """Multi-level features and samples with gt_instances -> dict of losses."""
        gt_instances, gt_instances_ignore, img_metas = unpack_gt_instances(batch_data_samples)
        outs = self(x)
        return self.loss_by_feat(*outs, gt_instances, img_metas, gt_instances_ignore)

    def loss_by_feat(self, *args, **kwargs) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement loss_by_feat")

    def loss_and_predict(self, x: Sequence[Tensor], batch_data_samples: Sequence,
                         proposal_cfg: Mapping | None = None
                         ) -> tuple[dict, list[InstanceData]]:
        """Losses and detections from one forward pass (RPN in two-stage training)."""
        gt_instances, gt_instances_ignore, img_metas = unpack_gt_instances(batch_data_samples)
        outs = self(x)
        losses = self.loss_by_feat(*outs, gt_instances, img_metas, gt_instances_ignore)
        predictions = self.predict_by_feat(*outs, batch_img_metas=img_metas, cfg=proposal_cfg)
        return losses, predictions

    def predict(self, x: Sequence[Tensor], batch_data_samples: Sequence,
                rescale: bool = False) -> list[InstanceData]:
        """Detections per image: bboxes (N, 4) xyxy, scores (N,), labels (N,)."""
        img_metas = [sample.metainfo for sample in batch_data_samples]
        outs = self(x)
        return self.predict_by_feat(*outs, batch_img_metas=img_metas, rescale=rescale)

    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        score_factors: Sequence[Tensor] | None = None,
                        batch_img_metas: Sequence[dict] | None = None,
                        cfg: Mapping | None = None, rescale: bool = False,
                        with_nms: bool = True) -> list[InstanceData]:
        """Per-level (B, A*C, H, W) ``cls_scores`` and (B, A*box_dim, H, W) ``bbox_preds``
        (and optional (B, A, H, W) ``score_factors``) -> detections per image."""
        if len(cls_scores) != len(bbox_preds):
            raise ValueError(f"cls_scores has {len(cls_scores)} levels but bbox_preds has "
                             f"{len(bbox_preds)}")
        if score_factors is not None and len(score_factors) != len(cls_scores):
            raise ValueError(f"score_factors has {len(score_factors)} levels but cls_scores "
                             f"has {len(cls_scores)}")
        if batch_img_metas is None:
            raise ValueError("predict_by_feat needs batch_img_metas (img_shape, scale_factor)")
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_priors = self.prior_generator.grid_priors(
            featmap_sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device)
        results = []
        for img_id, img_meta in enumerate(batch_img_metas):
            factors = (select_single_mlvl(score_factors, img_id) if score_factors is not None
                       else [None] * len(cls_scores))
            results.append(self._predict_by_feat_single(
                cls_score_list=select_single_mlvl(cls_scores, img_id),
                bbox_pred_list=select_single_mlvl(bbox_preds, img_id),
                score_factor_list=factors, mlvl_priors=mlvl_priors, img_meta=img_meta,
                cfg=cfg, rescale=rescale, with_nms=with_nms))
        return results

    def _scores_from_logits(self, cls_score: Tensor) -> Tensor:
        """(N, cls_out_channels) logits -> (N, num_classes) class probabilities."""
        if getattr(getattr(self, "loss_cls", None), "custom_cls_channels", False):
            return self.loss_cls.get_activation(cls_score)
        if self.use_sigmoid_cls:
            return cls_score.sigmoid()
        return cls_score.softmax(-1)[:, :-1]  # the last column is the background

    def _predict_by_feat_single(self, cls_score_list: Sequence[Tensor],
                                bbox_pred_list: Sequence[Tensor],
                                score_factor_list: Sequence[Tensor | None],
                                mlvl_priors: Sequence[Tensor], img_meta: dict,
                                cfg: Mapping | None, rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """One image: per-level (A*C, H, W) scores, (A*box_dim, H, W) deltas, priors."""
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get("nms_pre", -1)
        score_thr = cfg.get("score_thr", 0)
        box_dim = self.bbox_coder.encode_size
        with_score_factors = score_factor_list[0] is not None
        mlvl_bbox_preds, mlvl_priors_kept, mlvl_scores, mlvl_labels, mlvl_factors = \
            [], [], [], [], []
        for cls_score, bbox_pred, score_factor, priors in zip(
                cls_score_list, bbox_pred_list, score_factor_list, mlvl_priors):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, box_dim)
            scores = self._scores_from_logits(
                cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels))
            scores, labels, keep_idxs, kept = filter_scores_and_topk(
                scores, score_thr, nms_pre, dict(bbox_pred=bbox_pred, priors=priors))
            mlvl_bbox_preds.append(kept["bbox_pred"])
            mlvl_priors_kept.append(kept["priors"])
            mlvl_scores.append(scores)
            mlvl_labels.append(labels)
            if with_score_factors:
                mlvl_factors.append(score_factor.permute(1, 2, 0).reshape(-1).sigmoid()[keep_idxs])
        bboxes = self.bbox_coder.decode(cat_boxes(mlvl_priors_kept), torch.cat(mlvl_bbox_preds),
                                        max_shape=img_meta["img_shape"])
        results = InstanceData(bboxes=bboxes, scores=torch.cat(mlvl_scores),
                               labels=torch.cat(mlvl_labels))
        if with_score_factors:
            results.score_factors = torch.cat(mlvl_factors)
        return self._bbox_post_process(results, cfg, rescale=rescale, with_nms=with_nms,
                                       img_meta=img_meta)

    def _bbox_post_process(self, results: InstanceData, cfg: Mapping, rescale: bool = False,
                           with_nms: bool = True, img_meta: dict | None = None) -> InstanceData:
        """Rescale, apply score factors, drop small boxes, NMS, keep ``max_per_img``."""
        if rescale:
            if img_meta is None or img_meta.get("scale_factor") is None:
                raise KeyError("rescale=True needs 'scale_factor' in the image metainfo")
            results.bboxes = scale_boxes(results.bboxes,
                                         [1 / s for s in img_meta["scale_factor"]])
        if "score_factors" in results:
            results.scores = results.scores * results.pop("score_factors")
        min_bbox_size = cfg.get("min_bbox_size", -1)
        if min_bbox_size >= 0:
            w, h = get_box_wh(results.bboxes)
            valid = (w > min_bbox_size) & (h > min_bbox_size)
            if not valid.all():
                results = results[valid]
        if with_nms and results.bboxes.numel() > 0:
            keep = batched_nms_from_cfg(get_box_tensor(results.bboxes), results.scores,
                                        results.labels, cfg["nms"])
            results = results[keep][:cfg["max_per_img"]]
        return results
