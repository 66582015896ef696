"""Pascal VOC style XML annotations: XMLDataset (any classes) and VOCDataset (the 20)."""

from __future__ import annotations

import os.path as osp
import warnings
import xml.etree.ElementTree as ET
from collections import Counter

from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.class_names import VOC_CLASSES, VOC_PALETTE
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox
from detdatasets.io.image_io import image_size


class XMLDataset(BaseDetDataset):
    """One XML file per image, listed by id in ``ann_file`` (e.g. ImageSets/Main/train.txt).

    For id ``X`` the image is ``<sub_data_root>/<img_subdir>/X<img_suffix>`` and the
    annotation ``<sub_data_root>/<ann_subdir>/X.xml``, with ``sub_data_root`` taken from
    ``data_prefix``. Boxes are VOC's 1-based pixel indices minus one, as MMDetection
    reads them (``[xmin - 1, ymin - 1, xmax - 1, ymax - 1]``). ``difficult`` objects get
    ``ignore_flag=1``, and so do boxes smaller than ``bbox_min_size`` when it is set.
    Objects whose names are not among the classes are dropped (counted in one warning).
    """

    def __init__(self, *args, img_subdir: str = "JPEGImages", ann_subdir: str = "Annotations",
                 img_suffix: str = ".jpg", bbox_min_size: float | None = None, **kwargs):
        self.img_subdir = img_subdir
        self.ann_subdir = ann_subdir
        self.img_suffix = img_suffix
        self.bbox_min_size = bbox_min_size
        super().__init__(*args, **kwargs)

    @classmethod
    def default_data_prefix(cls) -> dict:
        return {"sub_data_root": ""}

    @property
    def sub_data_root(self) -> str:
        return self.data_prefix.get("sub_data_root", "")

    def load_data_list(self) -> list[dict]:
        if not self.classes:
            raise DatasetError(f"{type(self).__name__}: metainfo has no 'classes'; XML files "
                               f"name their objects, so the classes must be given")
        self.cat2label = {name: label for label, name in enumerate(self.classes)}
        try:
            with open(self.ann_file) as f:
                img_ids = [line.strip() for line in f if line.strip()]
        except FileNotFoundError:
            raise FileNotFoundError(f"image list file not found: {self.ann_file}") from None
        bad = self.new_bad_records()
        if not img_ids:
            bad.reject("image list", "is empty: no image ids")
        self._unknown_names: Counter = Counter()
        data_list = []
        for img_id in img_ids:
            info = self._parse_xml(img_id, bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        if self._unknown_names:
            warnings.warn(f"{self.ann_file}: dropped objects whose names are not among the "
                          f"dataset's classes: {dict(self._unknown_names)}", stacklevel=2)
        return data_list

    def _parse_xml(self, img_id: str, bad: BadRecords) -> dict | None:
        img_path = osp.join(self.sub_data_root, self.img_subdir, img_id + self.img_suffix)
        xml_path = osp.join(self.sub_data_root, self.ann_subdir, img_id + ".xml")
        if self.image_missing(img_path):
            bad.reject(f"image id {img_id}", f"image file not found: {img_path}")
            return None
        try:
            root = ET.parse(xml_path).getroot()
        except FileNotFoundError:
            bad.reject(f"image id {img_id}", f"annotation file not found: {xml_path}")
            return None
        except ET.ParseError as err:
            raise DatasetError(f"{xml_path}: malformed XML: {err}") from None
        size = root.find("size")
        if size is not None and size.findtext("width") and size.findtext("height"):
            width, height = int(float(size.findtext("width"))), int(float(size.findtext("height")))
        else:
            width, height = image_size(img_path)
        instances = self._parse_objects(root, xml_path, width, height, bad)
        if instances is None:
            return None
        return dict(img_id=img_id, img_path=img_path, xml_path=xml_path, height=height,
                    width=width, instances=instances)

    def _parse_objects(self, root: ET.Element, xml_path: str, width: int, height: int,
                       bad: BadRecords) -> list[dict] | None:
        instances = []
        for i, obj in enumerate(root.findall("object")):
            where = f"{xml_path} object {i}"
            name = obj.findtext("name")
            if name not in self.cat2label:
                self._unknown_names[name] += 1
                continue
            box = obj.find("bndbox")
            try:
                bbox = [int(float(box.findtext(k))) - 1 for k in ("xmin", "ymin", "xmax", "ymax")]
            except (AttributeError, TypeError, ValueError):
                bad.reject(where, "needs a <bndbox> with numeric xmin, ymin, xmax, ymax")
                return None
            problem = check_bbox(bbox, width, height)
            if problem:
                bad.reject(where, f"{problem} (VOC 1-based box minus one)")
                return None
            difficult = int(obj.findtext("difficult") or 0)
            too_small = self.bbox_min_size is not None and not self.test_mode and (
                min(bbox[2] - bbox[0], bbox[3] - bbox[1]) < self.bbox_min_size)
            instances.append(dict(bbox=bbox, bbox_label=self.cat2label[name],
                                  ignore_flag=int(bool(difficult) or too_small)))
        return instances


class VOCDataset(XMLDataset):
    """Pascal VOC 2007/2012; ``metainfo['dataset_type']`` says which (from
    ``sub_data_root``), because the two years are evaluated differently."""

    METAINFO = {"classes": VOC_CLASSES, "palette": VOC_PALETTE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        root = self.sub_data_root
        self._metainfo["dataset_type"] = ("VOC2007" if "VOC2007" in root else
                                          "VOC2012" if "VOC2012" in root else None)
