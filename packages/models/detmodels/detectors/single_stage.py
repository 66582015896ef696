"""SingleStageDetector: backbone -> optional neck -> one dense head that predicts boxes
directly (RetinaNet, FCOS, ATSS, GFL, SSD)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from detcore.registry import MODELS

from .base import BaseDetector


def build_module(cfg: Mapping | nn.Module) -> nn.Module:
    """A MODELS config (dict) or an already built module."""
    return MODELS.build(dict(cfg)) if isinstance(cfg, Mapping) else cfg


class SingleStageDetector(BaseDetector):
    """Args:
        backbone, neck, bbox_head: MODELS configs (or modules); train_cfg and test_cfg are
            handed to the head.
        data_preprocessor, init_cfg: see BaseDetector.
    """

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None = None,
                 bbox_head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if bbox_head is None:
            raise ValueError(f"{type(self).__name__} needs a bbox_head config")
        self.backbone = build_module(backbone)
        if neck is not None:
            self.neck = build_module(neck)
        if isinstance(bbox_head, Mapping):
            bbox_head = dict(bbox_head, train_cfg=train_cfg, test_cfg=test_cfg)
        self.bbox_head = build_module(bbox_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # an RPN checkpoint (rpn_head.*) loads into a single-stage detector's bbox_head
        bbox_head_prefix, rpn_head_prefix = prefix + "bbox_head", prefix + "rpn_head"
        if not any(k.startswith(bbox_head_prefix) for k in state_dict):
            for key in [k for k in state_dict if k.startswith(rpn_head_prefix)]:
                state_dict[bbox_head_prefix + key[len(rpn_head_prefix):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extract_feat(self, batch_inputs: Tensor) -> tuple[Tensor, ...]:
        """(B, 3, H, W) -> multi-level features, finest first."""
        x = self.backbone(batch_inputs)
        return self.neck(x) if self.with_neck else x

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence) -> dict:
        return self.bbox_head.loss(self.extract_feat(batch_inputs), batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence,
                rescale: bool = True) -> list:
        """The data samples with ``pred_instances`` (bboxes in original-image pixels when
        ``rescale``)."""
        if batch_data_samples is None:
            raise ValueError("mode 'predict' needs data_samples (their metainfo says how to map "
                             "boxes back to the original images)")
        results = self.bbox_head.predict(self.extract_feat(batch_inputs), batch_data_samples,
                                         rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs: Tensor, batch_data_samples: Sequence | None = None):
        """The head's raw outputs: a tuple of per-level lists."""
        return self.bbox_head.forward(self.extract_feat(batch_inputs))
