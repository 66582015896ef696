"""StandardRoIHead: the Faster/Mask R-CNN second stage (one box head, optional mask head)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.registry import MODELS, TASK_UTILS
from detcore.structures import DetDataSample, InstanceData
from detcore.structures.bbox.transforms import bbox2roi

from .base_roi_head import BaseRoIHead, gt_and_ignored
from .bbox_heads.bbox_head import empty_detections


def sample_proposals(assigner, sampler, x: Sequence[Tensor], rpn_results_list: list[InstanceData],
                     batch_gt_instances: list, batch_gt_instances_ignore: list) -> list:
    """Assign and sample each image's proposals. The proposals' ``bboxes`` become ``priors``
    (in place, as the samplers read them)."""
    sampling_results = []
    for i, (results, gt, ignored) in enumerate(zip(rpn_results_list, batch_gt_instances,
                                                    batch_gt_instances_ignore)):
        results.priors = results.pop("bboxes")
        assign_result = assigner.assign(results, gt, ignored)
        sampling_results.append(sampler.sample(assign_result, results, gt,
                                               feats=[feat[i][None] for feat in x]))
    return sampling_results


def empty_masks(results_list: list[InstanceData], batch_img_metas: Sequence[dict],
                mask_thr_binary: float) -> list[InstanceData]:
    """Give detections without boxes (0, H, W) masks of the original image size."""
    for results, img_meta in zip(results_list, batch_img_metas):
        h, w = img_meta["ori_shape"][:2]
        dtype = torch.bool if mask_thr_binary >= 0 else torch.uint8
        results.masks = torch.zeros(0, h, w, dtype=dtype, device=results.bboxes.device)
    return results_list


class StandardRoIHead(BaseRoIHead):
    """RoI pooling -> box head (scores + class-wise deltas) and, for Mask R-CNN, RoI
    pooling -> mask head on the positive samples (train) or the final detections (test)."""

    def init_assigner_sampler(self) -> None:
        self.bbox_assigner = None
        self.bbox_sampler = None
        if self.train_cfg:
            self.bbox_assigner = TASK_UTILS.build(self.train_cfg["assigner"])
            self.bbox_sampler = TASK_UTILS.build(self.train_cfg["sampler"],
                                                 default_args=dict(context=self))

    def init_bbox_head(self, bbox_roi_extractor: dict, bbox_head: dict) -> None:
        self.bbox_roi_extractor = MODELS.build(bbox_roi_extractor)
        self.bbox_head = MODELS.build(bbox_head)

    def init_mask_head(self, mask_roi_extractor: dict | None, mask_head: dict) -> None:
        self.share_roi_extractor = mask_roi_extractor is None
        self.mask_roi_extractor = (self.bbox_roi_extractor if self.share_roi_extractor
                                   else MODELS.build(mask_roi_extractor))
        self.mask_head = MODELS.build(mask_head)

    def forward(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
                batch_data_samples: Sequence[DetDataSample] | None = None) -> tuple:
        """Raw outputs on all proposals: (R, K + 1) scores, (R, 4K) deltas[, masks of the
        first 100 RoIs]."""
        rois = bbox2roi([results.bboxes for results in rpn_results_list])
        outputs = ()
        if self.with_bbox:
            bbox_results = self._bbox_forward(x, rois)
            outputs += (bbox_results["cls_score"], bbox_results["bbox_pred"])
        if self.with_mask:
            outputs += (self._mask_forward(x, rois[:100])["mask_preds"],)
        return outputs

    def loss(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
             batch_data_samples: Sequence[DetDataSample]) -> dict:
        """loss_cls, acc, loss_bbox (and loss_mask) on sampled proposals."""
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(f"{len(rpn_results_list)} proposal lists for "
                             f"{len(batch_data_samples)} images")
        batch_gt_instances, batch_gt_instances_ignore = gt_and_ignored(batch_data_samples)
        sampling_results = sample_proposals(self.bbox_assigner, self.bbox_sampler, x,
                                            rpn_results_list, batch_gt_instances,
                                            batch_gt_instances_ignore)
        losses = {}
        if self.with_bbox:
            bbox_results = self.bbox_loss(x, sampling_results)
            losses.update(bbox_results["loss_bbox"])
        if self.with_mask:
            mask_results = self.mask_loss(x, sampling_results, bbox_results["bbox_feats"],
                                          batch_gt_instances)
            losses.update(mask_results["loss_mask"])
        return losses

    def _bbox_forward(self, x: tuple[Tensor, ...], rois: Tensor) -> dict:
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        cls_score, bbox_pred = self.bbox_head(bbox_feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def bbox_loss(self, x: tuple[Tensor, ...], sampling_results: list) -> dict:
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        loss_and_target = self.bbox_head.loss_and_target(
            bbox_results["cls_score"], bbox_results["bbox_pred"], rois, sampling_results,
            self.train_cfg)
        bbox_results.update(rois=rois, **loss_and_target)
        return bbox_results

    def mask_loss(self, x: tuple[Tensor, ...], sampling_results: list, bbox_feats: Tensor,
                  batch_gt_instances: list) -> dict:
        if self.share_roi_extractor:
            # the positives' pooled features are already in bbox_feats (positives come first)
            pos_inds = torch.cat([torch.cat([res.pos_priors.new_ones(len(res.pos_priors)),
                                             res.neg_priors.new_zeros(len(res.neg_priors))])
                                  for res in sampling_results]).bool()
            mask_results = self._mask_forward(x, pos_inds=pos_inds, bbox_feats=bbox_feats)
        else:
            mask_results = self._mask_forward(x, bbox2roi([res.pos_priors
                                                           for res in sampling_results]))
        mask_results.update(self.mask_head.loss_and_target(
            mask_results["mask_preds"], sampling_results, batch_gt_instances, self.train_cfg))
        return mask_results

    def _mask_forward(self, x: tuple[Tensor, ...], rois: Tensor | None = None,
                      pos_inds: Tensor | None = None, bbox_feats: Tensor | None = None) -> dict:
        """Mask logits from RoIs, or from the ``pos_inds`` rows of ``bbox_feats``."""
        if (rois is None) == (pos_inds is None or bbox_feats is None):
            raise ValueError("_mask_forward takes either rois or both pos_inds and bbox_feats")
        if rois is not None:
            mask_feats = self.mask_roi_extractor(x[:self.mask_roi_extractor.num_inputs], rois)
            if self.with_shared_head:
                mask_feats = self.shared_head(mask_feats)
        else:
            mask_feats = bbox_feats[pos_inds]
        return dict(mask_preds=self.mask_head(mask_feats), mask_feats=mask_feats)

    def predict_bbox(self, x: tuple[Tensor, ...], batch_img_metas: Sequence[dict],
                     rpn_results_list: list[InstanceData], rcnn_test_cfg,
                     rescale: bool = False) -> list[InstanceData]:
        proposals = [results.bboxes for results in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return [empty_detections(rois.device, self.bbox_head.num_classes,
                                     rcnn_test_cfg is None) for _ in batch_img_metas]
        bbox_results = self._bbox_forward(x, rois)
        per_image = tuple(len(p) for p in proposals)
        bbox_pred = bbox_results["bbox_pred"]
        return self.bbox_head.predict_by_feat(
            rois.split(per_image), bbox_results["cls_score"].split(per_image),
            bbox_pred.split(per_image) if bbox_pred is not None else (None,) * len(proposals),
            batch_img_metas, rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)

    def predict_mask(self, x: tuple[Tensor, ...], batch_img_metas: Sequence[dict],
                     results_list: list[InstanceData], rescale: bool = False) -> list[InstanceData]:
        mask_rois = bbox2roi([results.bboxes for results in results_list])
        if mask_rois.shape[0] == 0:
            return empty_masks(results_list, batch_img_metas, self.test_cfg["mask_thr_binary"])
        mask_preds = self._mask_forward(x, mask_rois)["mask_preds"]
        mask_preds = mask_preds.split([len(results) for results in results_list])
        return self.mask_head.predict_by_feat(mask_preds, results_list, batch_img_metas,
                                              self.test_cfg, rescale=rescale)
