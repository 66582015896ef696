"""LabelmeDataset: a folder of labelme JSON files, one per image."""

from __future__ import annotations

import math
import os
import os.path as osp
import warnings
from collections import Counter
from collections.abc import Mapping

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox
from detdatasets.io.image_io import image_size

#: Vertices of the polygon that stands for a labelme circle.
CIRCLE_VERTICES = 32


def _circle_polygon(center, rim) -> list[float]:
    (cx, cy), (px, py) = center, rim
    radius = math.hypot(px - cx, py - cy)
    angles = (2 * math.pi * k / CIRCLE_VERTICES for k in range(CIRCLE_VERTICES))
    return [v for a in angles for v in (cx + radius * math.cos(a), cy + radius * math.sin(a))]


def _merge_into(instance: dict, part: dict) -> None:
    """Add ``part`` (another shape of the same object) to ``instance``: box union, polygons."""
    a, b = instance["bbox"], part["bbox"]
    instance["bbox"] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
    if "mask" in part:
        instance["mask"] = instance.get("mask", []) + part["mask"]


class LabelmeDataset(BaseDetDataset):
    """``ann_file`` is a folder of labelme ``*.json`` files (``imagePath`` relative to
    each file, ``imageWidth``, ``imageHeight``, ``shapes``).

    ``rectangle`` shapes give boxes; ``polygon`` and ``circle`` shapes give a box and a
    polygon mask. Shapes of one label that share a ``group_id`` are the parts of one
    object (labelme's convention). Other shape types (points, lines) carry no box and
    are dropped with a warning. ``classes`` default to the sorted set of labels found.
    """

    SHAPE_TYPES = ("rectangle", "polygon", "circle")

    def load_data_list(self) -> list[dict]:
        if not osp.isdir(self.ann_file):
            raise DatasetError(f"{self.ann_file}: LabelmeDataset's ann_file must be a folder of "
                               f"labelme .json files")
        files = sorted(f for f in os.listdir(self.ann_file) if f.endswith(".json"))
        bad = self.new_bad_records()
        if not files:
            bad.reject("the folder", "has no .json files")
        records = {f: load_annotation_file(osp.join(self.ann_file, f)) for f in files}
        if not self.classes:
            self._metainfo["classes"] = tuple(sorted({
                s.get("label") for r in records.values() if isinstance(r, Mapping)
                for s in r.get("shapes", []) if s.get("shape_type", "polygon") in self.SHAPE_TYPES}))
        self._dropped: Counter = Counter()
        data_list = []
        for name, record in records.items():
            info = self._parse_file(osp.join(self.ann_file, name), record, bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        if self._dropped:
            warnings.warn(f"{self.ann_file}: dropped shapes without a box or of other classes: "
                          f"{dict(self._dropped)}", stacklevel=2)
        return data_list

    def _parse_file(self, path: str, record, bad: BadRecords) -> dict | None:
        if not isinstance(record, Mapping) or "imagePath" not in record:
            bad.reject(path, "not a labelme file: it needs 'imagePath' and 'shapes'")
            return None
        img_path = osp.normpath(osp.join(osp.dirname(path), record["imagePath"]))
        if self.image_missing(img_path):
            bad.reject(path, f"image file not found: {img_path}")
            return None
        width, height = record.get("imageWidth"), record.get("imageHeight")
        if width is None or height is None:
            width, height = image_size(img_path)
        instances, groups = [], {}
        for i, shape in enumerate(record.get("shapes", [])):
            instance = self._parse_shape(shape, f"{path} shapes[{i}]", width, height, bad)
            if instance is False:
                return None
            if instance is None:
                continue
            key = (shape.get("group_id"), instance["bbox_label"])
            if key[0] is not None and key in groups:
                _merge_into(groups[key], instance)
            else:
                groups[key] = instance
                instances.append(instance)
        return dict(img_id=osp.splitext(osp.basename(path))[0], img_path=img_path,
                    height=height, width=width, instances=instances)

    def _parse_shape(self, shape, where: str, width, height, bad: BadRecords):
        """An instance, None for a shape that is dropped, False for a bad shape."""
        kind = shape.get("shape_type") or "polygon"
        label = shape.get("label")
        if kind not in self.SHAPE_TYPES or label not in self.classes:
            self._dropped[f"{kind}:{label}"] += 1
            return None
        points = shape.get("points") or []
        needed = {"rectangle": 2, "circle": 2, "polygon": 3}[kind]
        if len(points) < needed or any(len(p) != 2 for p in points):
            bad.reject(where, f"a {kind} needs at least {needed} [x, y] points, got {points!r}")
            return False
        if kind == "circle":
            polygon = _circle_polygon(*points[:2])
        elif kind == "polygon":
            polygon = [float(v) for p in points for v in p]
        else:
            polygon = None
        xs = polygon[0::2] if polygon else [p[0] for p in points]
        ys = polygon[1::2] if polygon else [p[1] for p in points]
        bbox = [min(xs), min(ys), max(xs), max(ys)]
        problem = check_bbox(bbox, width, height)
        if problem:
            bad.reject(where, problem)
            return False
        instance = dict(bbox=bbox, bbox_label=self.classes.index(label), ignore_flag=0)
        if polygon:
            instance["mask"] = [polygon]
        return instance
