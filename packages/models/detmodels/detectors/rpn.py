"""RPN as a detector on its own: class-agnostic proposals (evaluated by proposal recall)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from .base import BaseDetector
from .single_stage import SingleStageDetector, build_module
from .two_stage import class_agnostic_samples, rpn_head_cfg


class RPN(SingleStageDetector):
    """Backbone, neck and an RPN head (kept as ``bbox_head``, as in MMDetection)."""

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None,
                 rpn_head: Mapping, train_cfg: Mapping | None, test_cfg: Mapping,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None, **kwargs) -> None:
        BaseDetector.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        self.neck = build_module(neck) if neck is not None else None
        self.bbox_head = build_module(rpn_head_cfg(rpn_head, train_cfg, test_cfg))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence) -> dict:
        """``loss_rpn_cls`` and ``loss_rpn_bbox`` with every gt as class 0."""
        return self.bbox_head.loss(self.extract_feat(batch_inputs),
                                   class_agnostic_samples(batch_data_samples))
