"""BaseDetDataset: detection records, their validation, filtering, and the middle format.

A record (an item of the data list) is MMDetection 3.x's::

    dict(img_id=..., img_path='.../x.jpg', height=H, width=W,
         instances=[dict(bbox=[x1, y1, x2, y2],     # pixels, no +1 (x2 = x + w)
                         bbox_label=k,              # 0..K-1, in the order of metainfo classes
                         ignore_flag=0 | 1,         # 1: crowd / difficult / ignore region
                         mask=[[x0, y0, x1, y1, ...], ...] | {'size': [H, W], 'counts': ...}),
                    ...])

The *middle format* is a json/yaml/pickle file ``dict(metainfo=dict(classes=...),
data_list=[record, ...])`` whose records have that layout with ``img_path`` relative to
``data_prefix['img']``. Format-specific datasets (COCO, VOC, YOLO txt, ...) override
:meth:`load_data_list` and reuse the checks here.
"""

from __future__ import annotations

import numbers
import os.path as osp
from collections.abc import Mapping
from typing import Any

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.base_dataset import BaseDataset
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox


class BaseDetDataset(BaseDataset):
    """Detection dataset over the middle format; base of the format-specific datasets.

    Args (in addition to :class:`BaseDataset`'s):
        strict: a bad record (box outside the image or of non-positive size, unknown
            class, missing image file, ...) raises :class:`DatasetError` naming the file
            and the record; with ``strict=False`` it is skipped and counted in one warning.
        check_images: check at load time that every image file exists (one ``stat`` per
            image), so that a missing file is reported with its record, not mid-epoch.
        filter_cfg: ``dict(filter_empty_gt=bool, min_size=int)``: drop records without
            instances, or whose shorter image side is below ``min_size`` (training only).
        seg_map_suffix: suffix of semantic-segmentation maps (with ``data_prefix['seg']``).
        backend_args: accepted for MMDetection configs; files are read from local paths.
    """

    def __init__(self, *args, strict: bool = True, check_images: bool = True,
                 seg_map_suffix: str = ".png", backend_args: Mapping | None = None, **kwargs):
        self.strict = strict
        self.check_images = check_images
        self.seg_map_suffix = seg_map_suffix
        self.backend_args = backend_args  # accepted for MMDetection configs; files are local
        super().__init__(*args, **kwargs)

    @classmethod
    def default_data_prefix(cls) -> dict:
        return {"img": ""}

    # ------------------------------------------------------------------ helpers for subclasses
    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self._metainfo.get("classes", ()))

    def new_bad_records(self, source: str | None = None) -> BadRecords:
        return BadRecords(source or self.ann_file, strict=self.strict)

    def image_path(self, relative: str) -> str:
        return osp.join(self.data_prefix.get("img", ""), relative)

    def image_missing(self, img_path: str) -> bool:
        return self.check_images and not osp.isfile(img_path)

    def check_instances(self, instances: list, width: float, height: float, record: str,
                        bad: BadRecords) -> list[dict] | None:
        """Validate instance dicts of one image; None if a bad one was rejected (non-strict)."""
        if not isinstance(instances, list):
            bad.reject(record, f"'instances' must be a list, got {type(instances).__name__}")
            return None
        num_classes = len(self.classes)
        for i, instance in enumerate(instances):
            where = f"{record} instance {i}"
            if not isinstance(instance, Mapping) or "bbox" not in instance:
                bad.reject(where, "an instance must be a dict with a 'bbox'")
                return None
            problem = check_bbox(instance["bbox"], width, height)
            label = instance.get("bbox_label")
            if problem is None and not isinstance(label, numbers.Integral):
                problem = f"'bbox_label' must be an int, got {label!r}"
            elif problem is None and num_classes and not -1 <= label < num_classes:
                problem = (f"unknown bbox_label {label}: the dataset has {num_classes} classes "
                           f"{self.classes}")
            if problem:
                bad.reject(where, problem)
                return None
        return instances

    # ------------------------------------------------------------------ the middle format
    def load_data_list(self) -> list[dict]:
        raw = load_annotation_file(self.ann_file)
        if not isinstance(raw, Mapping) or "data_list" not in raw:
            raise DatasetError(f"{self.ann_file}: the middle format is a dict with 'metainfo' and "
                               f"'data_list'; got {type(raw).__name__}"
                               + (f" with keys {sorted(raw)}" if isinstance(raw, Mapping) else ""))
        for key, value in (raw.get("metainfo") or {}).items():
            self._metainfo.setdefault(key, tuple(value) if key == "classes" else value)
        records = raw["data_list"]
        if not isinstance(records, list):
            raise DatasetError(f"{self.ann_file}: 'data_list' must be a list, got "
                               f"{type(records).__name__}")
        bad = self.new_bad_records()
        if not records:
            bad.reject("data_list", "is empty: the file has no images")
        data_list = []
        for i, raw_info in enumerate(records):
            info = self.parse_data_info(raw_info, f"data_list[{i}]", bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        return data_list

    def parse_data_info(self, raw_info: Any, record: str, bad: BadRecords) -> dict | None:
        """Check one middle-format record and join the data prefixes to its paths."""
        if not isinstance(raw_info, Mapping):
            bad.reject(record, f"must be a dict, got {type(raw_info).__name__}")
            return None
        info = dict(raw_info)
        missing = [k for k in ("img_path", "height", "width") if k not in info]
        if missing:
            bad.reject(record, f"lacks {', '.join(repr(k) for k in missing)}")
            return None
        for key, prefix in self.data_prefix.items():
            target = {"img": "img_path", "seg": "seg_map_path"}.get(key, key)
            if target in info:
                info[target] = osp.join(prefix, info[target])
        record = f"{record} ({info['img_path']})"
        if self.image_missing(info["img_path"]):
            bad.reject(record, "image file not found")
            return None
        info.setdefault("img_id", osp.splitext(osp.basename(info["img_path"]))[0])
        instances = self.check_instances(info.setdefault("instances", []), info["width"],
                                         info["height"], record, bad)
        if instances is None:
            return None
        for instance in instances:
            instance.setdefault("ignore_flag", 0)
        return info

    # ------------------------------------------------------------------ filtering, queries
    def filter_data(self) -> list[dict]:
        """Apply ``filter_cfg`` (``filter_empty_gt``, ``min_size``); nothing in test mode."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        unknown = set(self.filter_cfg) - {"filter_empty_gt", "min_size"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown filter_cfg keys {sorted(unknown)}; "
                             f"known: filter_empty_gt, min_size")
        filter_empty_gt = self.filter_cfg.get("filter_empty_gt", False)
        min_size = self.filter_cfg.get("min_size", 0)
        return [info for info in self.data_list
                if (info["instances"] or not filter_empty_gt)
                and min(info["width"], info["height"]) >= min_size]

    def get_cat_ids(self, idx: int) -> list[int]:
        """Labels of the instances of image ``idx`` (ignore regions without a class excluded)."""
        return [inst["bbox_label"] for inst in self.get_data_info(idx)["instances"]
                if inst["bbox_label"] >= 0]
