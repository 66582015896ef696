"""BaseRoIHead: what every second stage shares (build from configs, predict boxes then masks)."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence

from torch import Tensor

from detcore.config import ConfigDict
from detcore.registry import MODELS
from detcore.structures import DetDataSample, InstanceData

from ..bricks import BaseModule


def gt_and_ignored(batch_data_samples: Sequence[DetDataSample]) -> tuple[list, list]:
    """Each sample's ``gt_instances`` and ``ignored_instances`` (None where it has none)."""
    return ([sample.gt_instances for sample in batch_data_samples],
            [sample.get("ignored_instances", None) for sample in batch_data_samples])


def as_config(cfg):
    """Attribute access for plain-dict (or list of dicts) train/test configs."""
    if cfg is None or isinstance(cfg, ConfigDict):
        return cfg
    if isinstance(cfg, (list, tuple)):
        return [as_config(c) for c in cfg]
    return ConfigDict(cfg)


class BaseRoIHead(BaseModule, metaclass=ABCMeta):
    """Second stage of a two-stage detector: classify and refine RPN proposals (and
    segment them). ``predict`` returns per-image InstanceData with bboxes/scores/labels
    (and masks)."""

    def __init__(self, bbox_roi_extractor: dict | None = None, bbox_head: dict | None = None,
                 mask_roi_extractor: dict | None = None, mask_head: dict | None = None,
                 shared_head: dict | None = None, train_cfg: dict | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg=init_cfg)
        self.train_cfg = as_config(train_cfg)
        self.test_cfg = as_config(test_cfg)
        if shared_head is not None:
            self.shared_head = MODELS.build(shared_head)
        if bbox_head is not None:
            self.init_bbox_head(bbox_roi_extractor, bbox_head)
        if mask_head is not None:
            self.init_mask_head(mask_roi_extractor, mask_head)
        self.init_assigner_sampler()

    @property
    def with_bbox(self) -> bool:
        return getattr(self, "bbox_head", None) is not None

    @property
    def with_mask(self) -> bool:
        return getattr(self, "mask_head", None) is not None

    @property
    def with_shared_head(self) -> bool:
        return getattr(self, "shared_head", None) is not None

    @abstractmethod
    def init_bbox_head(self, bbox_roi_extractor: dict, bbox_head: dict) -> None:
        """Build the box RoI extractor(s) and head(s)."""

    @abstractmethod
    def init_mask_head(self, mask_roi_extractor: dict | None, mask_head: dict) -> None:
        """Build the mask head(s) and their extractor(s) (shared with boxes when None)."""

    @abstractmethod
    def init_assigner_sampler(self) -> None:
        """Build the training assigner(s) and sampler(s) from ``train_cfg``."""

    @abstractmethod
    def loss(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
             batch_data_samples: Sequence[DetDataSample]) -> dict:
        """Losses of the second stage given the RPN proposals (``bboxes``) of each image."""

    @abstractmethod
    def predict_bbox(self, x, batch_img_metas, rpn_results_list, rcnn_test_cfg,
                     rescale=False) -> list[InstanceData]:
        """Per-image box detections."""

    @abstractmethod
    def predict_mask(self, x, batch_img_metas, results_list, rescale=False) -> list[InstanceData]:
        """Add ``masks`` to per-image detections."""

    def predict(self, x: tuple[Tensor, ...], rpn_results_list: list[InstanceData],
                batch_data_samples: Sequence[DetDataSample],
                rescale: bool = False) -> list[InstanceData]:
        """Detections per image; with a mask head the boxes are rescaled with the masks."""
        if not self.with_bbox:
            raise RuntimeError(f"{type(self).__name__}.predict needs a bbox_head")
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        results_list = self.predict_bbox(x, batch_img_metas, rpn_results_list,
                                         rcnn_test_cfg=self.test_cfg,
                                         rescale=rescale and not self.with_mask)
        if self.with_mask:
            results_list = self.predict_mask(x, batch_img_metas, results_list, rescale=rescale)
        return results_list
