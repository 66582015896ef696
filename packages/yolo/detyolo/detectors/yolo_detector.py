"""YOLODetector: backbone -> neck -> head, with the model API of DESIGN.md.

``model(inputs, data_samples, mode)``: 'loss' gives the head's loss dict, 'predict' the
data samples with ``pred_instances`` (bboxes, scores, labels), 'tensor' the head module's
raw per-level outputs (for YOLOv8: class logits and box-distribution logits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS
from detmodels.bricks import BaseModule

from .data_preprocessor import YOLOv5DetDataPreprocessor

MODES = ("loss", "predict", "tensor")


class YOLODetector(BaseModule):
    """Args:
        backbone, neck, bbox_head: configs (or modules); train_cfg and test_cfg are passed
            to the head.
        data_preprocessor: config or module; default YOLOv5DetDataPreprocessor().
        channels_last: keep weights and activations in the channels-last memory format
            (NHWC), which makes convolutions on CPUs (oneDNN) and on tensor-core GPUs faster;
            inputs are converted in :meth:`extract_feat`.
    """

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None,
                 bbox_head: Mapping | nn.Module, train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 channels_last: bool = False, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.backbone = _build(backbone)
        self.neck = _build(neck) if neck is not None else None
        if isinstance(bbox_head, Mapping):
            bbox_head = dict(bbox_head, train_cfg=train_cfg, test_cfg=test_cfg)
        self.bbox_head = _build(bbox_head)
        if data_preprocessor is None:
            data_preprocessor = YOLOv5DetDataPreprocessor()
        self.data_preprocessor = _build(data_preprocessor)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """(B, 3, H, W) images -> multi-level features, finest first."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

    def forward(self, inputs: Tensor, data_samples: Sequence | None = None, mode: str = "tensor"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.bbox_head(self.extract_feat(inputs))
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    def loss(self, inputs: Tensor, data_samples: Sequence) -> dict[str, Tensor]:
        if data_samples is None:
            raise ValueError("mode 'loss' needs data_samples with gt_instances")
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: Tensor, data_samples: Sequence, rescale: bool = True) -> list:
        """The data samples, each with ``pred_instances`` in original-image pixels."""
        if data_samples is None:
            raise ValueError("mode 'predict' needs data_samples (their metainfo says how to "
                             "map boxes back to the original images)")
        results = self.bbox_head.predict(self.extract_feat(inputs), data_samples, rescale=rescale)
        for sample, instances in zip(data_samples, results):
            sample.pred_instances = instances
        return list(data_samples)


def _build(cfg):
    return MODELS.build(dict(cfg)) if isinstance(cfg, Mapping) else cfg
