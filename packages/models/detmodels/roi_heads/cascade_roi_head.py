"""CascadeRoIHead (Cascade R-CNN): box stages trained at rising IoU thresholds, each
refining the previous stage's boxes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.registry import MODELS, TASK_UTILS
from detcore.structures import DetDataSample, InstanceData
from detcore.structures.bbox.transforms import bbox2roi, get_box_tensor

from ..bricks import ModuleList
from .base_roi_head import BaseRoIHead, gt_and_ignored
from .bbox_heads.bbox_head import empty_detections
from .standard_roi_head import empty_masks, sample_proposals


def per_stage(cfg: dict | list, num_stages: int, name: str) -> list:
    """A config given once (shared by every stage) or as one per stage."""
    cfgs = list(cfg) if isinstance(cfg, (list, tuple)) else [cfg] * num_stages
    if len(cfgs) != num_stages:
        raise ValueError(f"{name} has {len(cfgs)} entries for {num_stages} stages")
    return cfgs


class CascadeRoIHead(BaseRoIHead):
    """``num_stages`` box heads (and mask heads for Cascade Mask R-CNN).

    Training: stage t samples with ``train_cfg[t]`` from stage t-1's regressed boxes; its
    losses are reported as ``s{t}.<name>`` scaled by ``stage_loss_weights[t]``.
    Testing: boxes are refined through every stage; scores are the mean of all stages'
    scores and the last stage's deltas give the final boxes; masks average every stage's
    mask probabilities.
    """

    def __init__(self, num_stages: int, stage_loss_weights: Sequence[float],
                 bbox_roi_extractor: dict | list | None = None,
                 bbox_head: dict | list | None = None,
                 mask_roi_extractor: dict | list | None = None,
                 mask_head: dict | list | None = None, shared_head: dict | None = None,
                 train_cfg: list | None = None, test_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        if bbox_roi_extractor is None or bbox_head is None:
            raise ValueError("CascadeRoIHead needs bbox_roi_extractor and bbox_head")
        if shared_head is not None:
            raise ValueError("CascadeRoIHead does not support shared_head")
        if len(stage_loss_weights) != num_stages:
            raise ValueError(f"stage_loss_weights has {len(stage_loss_weights)} entries for "
                             f"num_stages={num_stages}")
        self.num_stages = num_stages
        self.stage_loss_weights = list(stage_loss_weights)
        super().__init__(bbox_roi_extractor=bbox_roi_extractor, bbox_head=bbox_head,
                         mask_roi_extractor=mask_roi_extractor, mask_head=mask_head,
                         train_cfg=train_cfg, test_cfg=test_cfg, init_cfg=init_cfg)

    def init_bbox_head(self, bbox_roi_extractor: dict | list, bbox_head: dict | list) -> None:
        extractors = per_stage(bbox_roi_extractor, self.num_stages, "bbox_roi_extractor")
        heads = per_stage(bbox_head, self.num_stages, "bbox_head")
        self.bbox_roi_extractor = ModuleList([MODELS.build(cfg) for cfg in extractors])
        self.bbox_head = ModuleList([MODELS.build(cfg) for cfg in heads])

    def init_mask_head(self, mask_roi_extractor: dict | list | None,
                       mask_head: dict | list) -> None:
        self.mask_head = ModuleList([MODELS.build(cfg) for cfg in
                                     per_stage(mask_head, self.num_stages, "mask_head")])
        self.share_roi_extractor = mask_roi_extractor is None
        if self.share_roi_extractor:
            self.mask_roi_extractor = self.bbox_roi_extractor
        else:
            self.mask_roi_extractor = ModuleList([
                MODELS.build(cfg)
                for cfg in per_stage(mask_roi_extractor, self.num_stages, "mask_roi_extractor")])

    def init_assigner_sampler(self) -> None:
        self.bbox_assigner = []
        self.bbox_sampler = []
        for stage, cfg in enumerate(self.train_cfg or []):
            self.current_stage = stage
            self.bbox_assigner.append(TASK_UTILS.build(cfg["assigner"]))
            self.bbox_sampler.append(TASK_UTILS.build(cfg["sampler"],
                                                      default_args=dict(context=self)))

    def _bbox_forward(self, stage: int, x: tuple[Tensor, ...], rois: Tensor) -> dict:
        extractor = self.bbox_roi_extractor[stage]
        bbox_feats = extractor(x[:extractor.num_inputs], rois)
        cls_score, bbox_pred = self.bbox_head[stage](bbox_feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def _mask_forward(self, stage: int, x: tuple[Tensor, ...], rois: Tensor) -> dict:
        extractor = self.mask_roi_extractor[stage]
        mask_feats = extractor(x[:extractor.num_inputs], rois)
        return dict(mask_preds=self.mask_head[stage](mask_feats))

    def bbox_loss(self, stage: int, x: tuple[Tensor, ...], sampling_results: list) -> dict:
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(stage, x, rois)
        bbox_results.update(rois=rois, **self.bbox_head[stage].loss_and_target(
            bbox_results["cls_score"], bbox_results["bbox_pred"], rois, sampling_results,
            self.train_cfg[stage]))
        return bbox_results

    def mask_loss(self, stage: int, x: tuple[Tensor, ...], sampling_results: list,
                  batch_gt_instances: list) -> dict:
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        mask_results = self._mask_forward(stage, x, pos_rois)
        mask_results.update(self.mask_head[stage].loss_and_target(
            mask_results["mask_preds"], sampling_results, batch_gt_instances,
            self.train_cfg[stage]))
        return mask_results

    def loss(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
             batch_data_samples: Sequence[DetDataSample]) -> dict:
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(f"{len(rpn_results_list)} proposal lists for "
                             f"{len(batch_data_samples)} images")
        batch_gt_instances, batch_gt_instances_ignore = gt_and_ignored(batch_data_samples)
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        losses = {}
        results_list = rpn_results_list
        for stage in range(self.num_stages):
            self.current_stage = stage
            weight = self.stage_loss_weights[stage]
            sampling_results = sample_proposals(
                self.bbox_assigner[stage], self.bbox_sampler[stage], x, results_list,
                batch_gt_instances, batch_gt_instances_ignore)
            bbox_results = self.bbox_loss(stage, x, sampling_results)
            stage_losses = dict(bbox_results["loss_bbox"])
            if self.with_mask:
                stage_losses.update(self.mask_loss(stage, x, sampling_results,
                                                   batch_gt_instances)["loss_mask"])
            for name, value in stage_losses.items():
                losses[f"s{stage}.{name}"] = value * weight if "loss" in name else value
            if stage < self.num_stages - 1:
                with torch.no_grad():
                    results_list = self.bbox_head[stage].refine_bboxes(
                        sampling_results, bbox_results, batch_img_metas)
                if results_list is None:
                    break
        return losses

    def _refine_roi(self, x: tuple[Tensor, ...], rois: Tensor, batch_img_metas: Sequence[dict],
                    num_proposals_per_img: Sequence[int]) -> tuple[list, list, list]:
        """Run every stage; returns the last stage's per-image RoIs and deltas and the
        stage-averaged scores."""
        stage_scores = []
        for stage in range(self.num_stages):
            bbox_results = self._bbox_forward(stage, x, rois)
            rois = rois.split(num_proposals_per_img)
            cls_scores = bbox_results["cls_score"].split(num_proposals_per_img)
            stage_scores.append(cls_scores)
            bbox_preds = bbox_results["bbox_pred"]
            bbox_preds = (bbox_preds.split(num_proposals_per_img) if bbox_preds is not None
                          else (None,) * len(batch_img_metas))
            if stage < self.num_stages - 1:
                head = self.bbox_head[stage]
                if head.custom_activation:
                    cls_scores = [head.loss_cls.get_activation(s) for s in cls_scores]
                refined = []
                for img_rois, scores, preds, img_meta in zip(rois, cls_scores, bbox_preds,
                                                             batch_img_metas):
                    if img_rois.shape[0] > 0:
                        labels = scores[:, :-1].argmax(dim=1)
                        boxes = get_box_tensor(head.regress_by_class(img_rois[:, 1:], labels,
                                                                     preds, img_meta))
                        refined.append(torch.cat([img_rois[:, [0]], boxes], dim=1))
                rois = torch.cat(refined)
        cls_scores = [sum(scores[i] for scores in stage_scores) / len(stage_scores)
                      for i in range(len(batch_img_metas))]
        return list(rois), cls_scores, list(bbox_preds)

    def _merged_mask_probs(self, x: tuple[Tensor, ...], mask_rois: Tensor,
                           num_per_img: Sequence[int]) -> list[Tensor]:
        """Per image, the mean over stages of (n, K, 28, 28) mask probabilities."""
        probs = sum(self._mask_forward(stage, x, mask_rois)["mask_preds"].sigmoid().detach()
                    for stage in range(self.num_stages)) / self.num_stages
        return list(probs.split(list(num_per_img)))

    def forward(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
                batch_data_samples: Sequence[DetDataSample]) -> tuple:
        """Raw outputs: per-image averaged scores and last-stage deltas[, merged mask probs]."""
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        proposals = [results.bboxes for results in rpn_results_list]
        num_per_img = tuple(len(p) for p in proposals)
        rois, cls_scores, bbox_preds = self._refine_roi(x, bbox2roi(proposals), batch_img_metas,
                                                        num_per_img)
        outputs = (cls_scores, bbox_preds)
        if self.with_mask:
            outputs += (self._merged_mask_probs(x, torch.cat(rois), num_per_img),)
        return outputs

    def predict_bbox(self, x: tuple[Tensor, ...], batch_img_metas: Sequence[dict],
                     rpn_results_list: list[InstanceData], rcnn_test_cfg,
                     rescale: bool = False) -> list[InstanceData]:
        proposals = [results.bboxes for results in rpn_results_list]
        rois = bbox2roi(proposals)
        last_head = self.bbox_head[-1]
        if rois.shape[0] == 0:
            return [empty_detections(rois.device, last_head.num_classes, rcnn_test_cfg is None)
                    for _ in batch_img_metas]
        rois, cls_scores, bbox_preds = self._refine_roi(x, rois, batch_img_metas,
                                                        tuple(len(p) for p in proposals))
        return last_head.predict_by_feat(rois, cls_scores, bbox_preds, batch_img_metas,
                                         rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)

    def predict_mask(self, x: tuple[Tensor, ...], batch_img_metas: Sequence[dict],
                     results_list: list[InstanceData], rescale: bool = False) -> list[InstanceData]:
        mask_rois = bbox2roi([results.bboxes for results in results_list])
        if mask_rois.shape[0] == 0:
            return empty_masks(results_list, batch_img_metas, self.test_cfg["mask_thr_binary"])
        probs = self._merged_mask_probs(x, mask_rois, [len(r) for r in results_list])
        return self.mask_head[-1].predict_by_feat(probs, results_list, batch_img_metas,
                                                  self.test_cfg, rescale=rescale,
                                                  activate_map=True)
