"""TwoStageDetector: backbone -> neck -> RPN proposals -> RoI head (the R-CNN family)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from .base import BaseDetector
from .single_stage import build_module


def rpn_head_cfg(rpn_head: Mapping, train_cfg: Mapping | None, test_cfg: Mapping | None) -> dict:
    """The RPN head's config with its train/test settings and exactly one class."""
    cfg = dict(rpn_head, train_cfg=(train_cfg or {}).get("rpn"), test_cfg=(test_cfg or {}).get("rpn"))
    if cfg.get("num_classes", 1) != 1:
        warnings.warn(f"rpn_head.num_classes must be 1 (object vs background), got "
                      f"{cfg['num_classes']}; using 1", stacklevel=3)
    cfg["num_classes"] = 1
    return cfg


def class_agnostic_samples(batch_data_samples: Sequence) -> list:
    """Copies of the samples whose gt labels are all 0 (what the RPN learns from)."""
    samples = copy.deepcopy(list(batch_data_samples))
    for sample in samples:
        sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
    return samples


class TwoStageDetector(BaseDetector):
    """Proposals come from ``rpn_head`` (or from each sample's ``proposals`` when there is
    none); ``roi_head`` classifies and refines them. ``train_cfg``/``test_cfg`` hold
    ``rpn``, ``rpn_proposal`` (training proposals) and ``rcnn`` settings."""

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None = None,
                 rpn_head: Mapping | None = None, roi_head: Mapping | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        if neck is not None:
            self.neck = build_module(neck)
        if rpn_head is not None:
            self.rpn_head = build_module(rpn_head_cfg(rpn_head, train_cfg, test_cfg))
        if roi_head is not None:
            self.roi_head = build_module(dict(roi_head,
                                              train_cfg=(train_cfg or {}).get("rcnn"),
                                              test_cfg=(test_cfg or {}).get("rcnn")))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Load an RPN-only checkpoint (its head is ``bbox_head``) into ``rpn_head``."""
        bbox_head_prefix, rpn_head_prefix = prefix + "bbox_head", prefix + "rpn_head"
        if not any(k.startswith(rpn_head_prefix) for k in state_dict):
            for key in [k for k in state_dict if k.startswith(bbox_head_prefix)]:
                state_dict[rpn_head_prefix + key[len(bbox_head_prefix):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    @property
    def with_rpn(self) -> bool:
        return getattr(self, "rpn_head", None) is not None

    @property
    def with_roi_head(self) -> bool:
        return getattr(self, "roi_head", None) is not None

    def extract_feat(self, batch_inputs: Tensor) -> tuple[Tensor, ...]:
        x = self.backbone(batch_inputs)
        return self.neck(x) if self.with_neck else x

    def _given_proposals(self, batch_data_samples: Sequence | None) -> list:
        if not batch_data_samples or batch_data_samples[0].get("proposals", None) is None:
            raise ValueError(f"{type(self).__name__} has no rpn_head, so every data sample "
                             f"needs 'proposals'")
        return [sample.proposals for sample in batch_data_samples]

    def _forward(self, batch_inputs: Tensor, batch_data_samples: Sequence | None = None) -> tuple:
        """``(roi_head outputs,)`` on the RPN's test-time proposals."""
        x = self.extract_feat(batch_inputs)
        if self.with_rpn:
            rpn_results_list = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        else:
            rpn_results_list = self._given_proposals(batch_data_samples)
        return (self.roi_head.forward(x, rpn_results_list, batch_data_samples),)

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence) -> dict:
        """RPN losses (``loss_rpn_cls``, ``loss_rpn_bbox``) and the RoI head's losses."""
        x = self.extract_feat(batch_inputs)
        losses = {}
        if self.with_rpn:
            proposal_cfg = (self.train_cfg or {}).get("rpn_proposal", self.test_cfg["rpn"])
            rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(
                x, class_agnostic_samples(batch_data_samples), proposal_cfg=proposal_cfg)
            for key in list(rpn_losses):
                if "loss" in key and "rpn" not in key:
                    rpn_losses[f"rpn_{key}"] = rpn_losses.pop(key)
            losses.update(rpn_losses)
        else:
            rpn_results_list = self._given_proposals(batch_data_samples)
        losses.update(self.roi_head.loss(x, rpn_results_list, batch_data_samples))
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence,
                rescale: bool = True) -> list:
        """Samples with ``pred_instances`` (bboxes, scores, labels[, masks]), in the original
        image's pixels with ``rescale``."""
        if not self.with_bbox:
            raise RuntimeError(f"{type(self).__name__}.predict needs a roi_head with a bbox_head")
        if batch_data_samples is None:
            raise ValueError("mode 'predict' needs data_samples (their metainfo says how to map "
                             "boxes back to the original images)")
        x = self.extract_feat(batch_inputs)
        if batch_data_samples[0].get("proposals", None) is None:
            rpn_results_list = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        else:
            rpn_results_list = [sample.proposals for sample in batch_data_samples]
        results_list = self.roi_head.predict(x, rpn_results_list, batch_data_samples,
                                             rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)
