"""BaseYOLOHead: what every YOLO head shares around its network (the ``head_module``) and
its loss: the loss/predict entry points of the model API and cached multi-level priors.

MMYOLO's split: the head module is the network only (it maps features to raw per-level
outputs, which ``tensor`` mode returns), the head owns priors, assignment, losses and
post-processing, so that a network and a loss of different algorithms can be combined.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from detcore.registry import MODELS, TASK_UTILS
from detmodels.bricks import BaseModule


def _build(registry, cfg):
    """A component from a config dict, or the component itself."""
    return registry.build(dict(cfg)) if isinstance(cfg, Mapping) else cfg


def world_size() -> int:
    """Processes of the distributed job (1 without one): YOLO losses are scaled by it so
    that DDP's gradient averaging leaves them per-image sums, as MMYOLO does."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class BaseYOLOHead(BaseModule):
    """Args:
        head_module: config of the network (e.g. YOLOv8HeadModule); num_classes is read from it.
        prior_generator: config of the prior (point or anchor) generator.
        train_cfg: training settings (assigner...); test_cfg: post-processing settings.
    """

    def __init__(self, head_module: Mapping, prior_generator: Mapping,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.head_module = _build(MODELS, head_module)
        self.num_classes = self.head_module.num_classes
        self.featmap_strides = tuple(self.head_module.featmap_strides)
        self.num_levels = len(self.featmap_strides)
        self.prior_generator = _build(TASK_UTILS, prior_generator)
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        self._prior_cache: tuple = (None, None)

    def forward(self, x: Sequence[Tensor]) -> tuple:
        """Raw per-level outputs of the head module."""
        return self.head_module(x)

    def loss(self, x: Sequence[Tensor], batch_data_samples: Sequence) -> dict[str, Tensor]:
        outs = self(x)
        gts = [sample.gt_instances for sample in batch_data_samples]
        metas = [sample.metainfo for sample in batch_data_samples]
        return self.loss_by_feat(*outs, batch_gt_instances=gts, batch_img_metas=metas)

    def predict(self, x: Sequence[Tensor], batch_data_samples: Sequence,
                rescale: bool = True) -> list:
        """Per-image InstanceData (bboxes, scores, labels), in original-image pixels when
        ``rescale``."""
        outs = self(x)
        metas = [sample.metainfo for sample in batch_data_samples]
        return self.predict_by_feat(*outs, batch_img_metas=metas, rescale=rescale)

    @abstractmethod
    def loss_by_feat(self, *outs, batch_gt_instances: Sequence,
                     batch_img_metas: Sequence[Mapping]) -> dict[str, Tensor]: ...

    @abstractmethod
    def predict_by_feat(self, *outs, batch_img_metas: Sequence[Mapping],
                        cfg: Mapping | None = None, rescale: bool = True,
                        with_nms: bool = True) -> list: ...

    def flat_priors(self, featmap_sizes: Sequence[tuple[int, int]], dtype: torch.dtype,
                    device: torch.device) -> tuple[Tensor, Tensor]:
        """(A, k) priors of all levels concatenated (points (A, 2) or anchors (A, 4)) and
        their (A, 1) strides; recomputed only when the feature sizes change."""
        key = (tuple(tuple(s) for s in featmap_sizes), dtype, device)
        if self._prior_cache[0] != key:
            mlvl_priors = self.prior_generator.grid_priors(featmap_sizes, dtype=dtype, device=device)
            strides = [priors.new_full((len(priors), 1), float(stride))
                       for priors, stride in zip(mlvl_priors, self.featmap_strides)]
            self._prior_cache = (key, (torch.cat(mlvl_priors), torch.cat(strides)))
        return self._prior_cache[1]
