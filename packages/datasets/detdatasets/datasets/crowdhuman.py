"""CrowdHumanDataset: the .odgt annotations of CrowdHuman (one JSON record per line)."""

from __future__ import annotations

import json
import os.path as osp
from collections.abc import Mapping

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox
from detdatasets.io.image_io import image_size


def _xywh_to_xyxy(box) -> list[float]:
    x, y, w, h = box
    return [x, y, x + w, y + h]


class CrowdHumanDataset(BaseDetDataset):
    """Each line: ``{"ID": ..., "gtboxes": [{"tag": "person" | "mask", "fbox": [x, y, w, h],
    "vbox": [...], "hbox": [...], "extra": {"ignore": 0 | 1, ...}}, ...]}``.

    Boxes tagged other than a class name (``mask``: crowds, reflections, posters) and
    boxes with ``extra.ignore != 0`` are ignore regions: ``bbox_label=-1``,
    ``ignore_flag=1`` (MMDetection's convention). ``bbox`` is the full-body box
    (``bbox_key='fbox'``) or the visible one (``'vbox'``); all three are kept as
    ``fbox``, ``vbox``, ``hbox``. Image sizes come from ``extra_ann_file`` (a json
    ``{ID: [height, width]}``) when given, else from the image headers.
    """

    METAINFO = {"classes": ("person",), "palette": [(220, 20, 60)]}
    BOX_KEYS = ("fbox", "vbox", "hbox")

    def __init__(self, *args, extra_ann_file: str | None = None, bbox_key: str = "fbox",
                 **kwargs):
        if bbox_key not in ("fbox", "vbox"):
            raise ValueError(f"bbox_key must be 'fbox' or 'vbox', got {bbox_key!r}")
        self.extra_ann_file = extra_ann_file
        self.bbox_key = bbox_key
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        sizes = {}
        if self.extra_ann_file:
            path = self.extra_ann_file
            if self.data_root and not osp.isabs(path):
                path = osp.join(self.data_root, path)
            sizes = load_annotation_file(path)
        bad = self.new_bad_records()
        data_list = []
        try:
            with open(self.ann_file) as f:
                lines = f.readlines()
        except FileNotFoundError:
            raise FileNotFoundError(f"annotation file not found: {self.ann_file}") from None
        if not any(line.strip() for line in lines):
            bad.reject("the file", "is empty: no records")
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{self.ann_file}: line {line_no}: malformed JSON at column "
                                   f"{err.colno}: {err.msg}") from None
            info = self._parse_record(record, f"line {line_no}", sizes, bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        return data_list

    def _parse_record(self, record, where: str, sizes: Mapping, bad: BadRecords) -> dict | None:
        if not isinstance(record, Mapping) or "ID" not in record:
            bad.reject(where, "a record needs an 'ID' and 'gtboxes'")
            return None
        img_id = record["ID"]
        where = f"{where} (ID {img_id})"
        img_path = self.image_path(f"{img_id}.jpg")
        if self.image_missing(img_path) or (img_id not in sizes and not osp.isfile(img_path)):
            bad.reject(where, f"image file not found: {img_path}")
            return None
        height, width = sizes[img_id] if img_id in sizes else image_size(img_path)[::-1]
        instances = []
        for i, box in enumerate(record.get("gtboxes", [])):
            try:
                boxes = {k: _xywh_to_xyxy(box[k]) for k in self.BOX_KEYS if k in box}
                bbox = boxes[self.bbox_key]
            except (KeyError, TypeError, ValueError):
                bad.reject(f"{where} gtboxes[{i}]", f"needs '{self.bbox_key}' as [x, y, w, h]")
                return None
            is_class = box.get("tag") in self.classes
            ignored = not is_class or box.get("extra", {}).get("ignore", 0) != 0
            if not ignored:
                problem = check_bbox(bbox, width, height)
                if problem:
                    bad.reject(f"{where} gtboxes[{i}]", problem)
                    return None
            instances.append(dict(bbox=bbox, bbox_label=-1 if ignored else
                                  self.classes.index(box["tag"]),
                                  ignore_flag=int(ignored), **boxes))
        return dict(img_id=img_id, img_path=img_path, height=height, width=width,
                    instances=instances)
