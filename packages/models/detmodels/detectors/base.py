"""BaseDetector: the model API every detector offers (MMDetection 3.x's):
``model(inputs, data_samples, mode)`` with mode 'loss' -> dict of losses, 'predict' -> the
data samples with ``pred_instances``, 'tensor' -> the raw head outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from detcore.registry import MODELS

from ..bricks import BaseModule
from ..data_preprocessors import DetDataPreprocessor
from ..utils import samplelist_boxtype2tensor

MODES = ("loss", "predict", "tensor")


class BaseDetector(BaseModule):
    """Args:
        data_preprocessor: config or module that normalises, pads and batches the images
            (``self.data_preprocessor``, which the runner calls before ``forward``);
            default: DetDataPreprocessor() (no normalisation).
        init_cfg: weight initialisation of the whole detector.

    Subclasses give ``loss``, ``predict``, ``_forward`` and ``extract_feat``.
    """

    def __init__(self, data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if data_preprocessor is None:
            data_preprocessor = DetDataPreprocessor()
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = MODELS.build(dict(data_preprocessor))
        elif not isinstance(data_preprocessor, nn.Module):
            raise TypeError("data_preprocessor must be a config dict or an nn.Module, got "
                            f"{type(data_preprocessor).__name__}")
        self.data_preprocessor = data_preprocessor

    @property
    def with_neck(self) -> bool:
        return getattr(self, "neck", None) is not None

    @property
    def with_shared_head(self) -> bool:
        return hasattr(self, "roi_head") and self.roi_head.with_shared_head

    @property
    def with_bbox(self) -> bool:
        return ((hasattr(self, "roi_head") and self.roi_head.with_bbox)
                or getattr(self, "bbox_head", None) is not None)

    @property
    def with_mask(self) -> bool:
        return ((hasattr(self, "roi_head") and self.roi_head.with_mask)
                or getattr(self, "mask_head", None) is not None)

    def forward(self, inputs: Tensor, data_samples: Sequence | None = None,
                mode: str = "tensor"):
        """(B, 3, H, W) preprocessed images (and their DetDataSample) -> losses, predictions
        or raw outputs, by ``mode``."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement loss")

    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence) -> list:
        raise NotImplementedError(f"{type(self).__name__} must implement predict")

    def _forward(self, batch_inputs: Tensor, batch_data_samples: Sequence | None = None):
        raise NotImplementedError(f"{type(self).__name__} must implement _forward")

    def extract_feat(self, batch_inputs: Tensor):
        raise NotImplementedError(f"{type(self).__name__} must implement extract_feat")

    def add_pred_to_datasample(self, data_samples: Sequence, results_list: Sequence) -> list:
        """Set each sample's ``pred_instances`` (boxes as plain (N, 4) tensors)."""
        if data_samples is None:
            raise ValueError("mode 'predict' needs data_samples (their metainfo says how to map "
                             "boxes back to the original images)")
        for sample, pred_instances in zip(data_samples, results_list):
            sample.pred_instances = pred_instances
        samplelist_boxtype2tensor(data_samples)
        return list(data_samples)
