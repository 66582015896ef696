"""Helpers detectors and heads share for unpacking data samples and shaping results
(MMDetection keeps these in ``mmdet.models.utils``; ``multi_apply`` and the per-level helpers
live in ``detmodels.task_modules.utils``)."""

from .dist import reduce_mean
from .misc import empty_instances, samplelist_boxtype2tensor, unpack_gt_instances
from .nms import batched_nms_from_cfg

__all__ = ["batched_nms_from_cfg", "empty_instances", "samplelist_boxtype2tensor", "reduce_mean",
           "unpack_gt_instances"]
