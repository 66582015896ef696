"""YOLOv5CocoDataset: CocoDataset plus the two things MMYOLO's YOLO pipelines expect of a
dataset: it hands itself to the training pipeline (so YOLOMosaic, YOLOv5MixUp, ... can
draw other images without a MultiImageMixDataset wrapper), and it can order the
evaluation images for BatchShapePolicy (``batch_shapes_cfg``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detcore.registry import TASK_UTILS
from detdatasets.datasets.coco import CocoDataset


class YOLOv5CocoDataset(CocoDataset):
    """COCO detection records for YOLO pipelines.

    Args:
        batch_shapes_cfg: a TASK_UTILS config (``dict(type='BatchShapePolicy',
            batch_size=..., img_size=640, size_divisor=32, extra_pad_ratio=0.5)``), applied
            after filtering and subsetting, so the records come sorted by aspect ratio with
            a ``batch_shape`` each. Only for evaluation: the dataloader must then not
            shuffle and must use the policy's batch size. None: leave the records as they
            are.
        Other arguments: CocoDataset's.
    """

    def __init__(self, *args, batch_shapes_cfg: Mapping | None = None, **kwargs):
        if batch_shapes_cfg is not None and not isinstance(batch_shapes_cfg, Mapping):
            raise TypeError(f"YOLOv5CocoDataset: batch_shapes_cfg must be a config dict or None, "
                            f"got {type(batch_shapes_cfg).__name__}")
        self.batch_shapes_cfg = None if batch_shapes_cfg is None else dict(batch_shapes_cfg)
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        if self._fully_initialized or not self.batch_shapes_cfg:
            super().full_init()
            return
        # the policy must see the final list, before it is serialised
        serialize, self.serialize_data = self.serialize_data, False
        try:
            super().full_init()
        finally:
            self.serialize_data = serialize
        self.data_list = TASK_UTILS.build(self.batch_shapes_cfg)(self.data_list)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()

    def prepare_data(self, idx: int) -> Any:
        """The record through the pipeline; in training the record carries the dataset
        itself as ``'dataset'`` for the mixing transforms."""
        if self.test_mode:
            return super().prepare_data(idx)
        info = self.get_data_info(idx)
        info["dataset"] = self
        return self.pipeline(info)
