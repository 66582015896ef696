"""Open an annotation source of any supported format as a detection dataset.

Used by ``detcore data browse`` and ``convert``: the format's dataset class does the
reading, so the tools check and report bad input exactly as training would.
"""

from __future__ import annotations

import os
import os.path as osp
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.coco import CocoDataset
from detdatasets.datasets.errors import DatasetError


def guess_format(source: str) -> str:
    """'config', 'coco', 'middle', 'yolo', 'voc' or 'labelme', from the path and content."""
    if osp.isdir(source):
        return "labelme"
    suffix = osp.splitext(source)[1].lower()
    if suffix == ".py":
        return "config"
    if suffix == ".txt":
        return "voc"
    if suffix in (".pkl", ".pickle"):
        return "middle"
    content = load_annotation_file(source)
    if isinstance(content, dict):
        if "data_list" in content:
            return "middle"
        if "images" in content:
            return "coco"
        if "names" in content and any(k in content for k in ("train", "val", "test")):
            return "yolo"
        if any(k.endswith("_dataloader") for k in content):
            return "config"
    raise DatasetError(f"{source}: cannot tell its format; pass --format")


def _voc_class_names(sub_data_root: str, ids_file: str) -> tuple[str, ...]:
    """Sorted object names found in the XML files listed in ``ids_file``."""
    names = set()
    with open(ids_file) as f:
        for img_id in (line.strip() for line in f if line.strip()):
            xml_path = osp.join(sub_data_root, "Annotations", f"{img_id}.xml")
            try:
                names.update(obj.findtext("name") for obj in ET.parse(xml_path).findall("object"))
            except (FileNotFoundError, ET.ParseError):
                continue  # the dataset reports the file with its record
    return tuple(sorted(n for n in names if n))


def _voc_image_subdir(sub_data_root: str, ids_file: str) -> tuple[str, str]:
    """(img_subdir, suffix) of a VOC tree: JPEGImages/ with .jpg unless images are elsewhere."""
    with open(ids_file) as f:
        first = next((line.strip() for line in f if line.strip()), None)
    for subdir in ("JPEGImages", "images"):
        for suffix in (".jpg", ".png", ".jpeg"):
            if first and osp.isfile(osp.join(sub_data_root, subdir, first + suffix)):
                return subdir, suffix
    return "JPEGImages", ".jpg"


def open_dataset(fmt: str, source: str, img_dir: str | None = None, split: str = "train",
                 classes: Sequence[str] | None = None, strict: bool = True):
    """The dataset of ``source`` in format ``fmt`` (not 'config'), without a pipeline.

    ``img_dir``: image folder of COCO / middle-format records (default: the annotation
    file's folder), the root of a VOC tree (default: three levels above the
    ImageSets/Main/*.txt file). ``classes``: keep these classes (default: all found).
    """
    from detdatasets.datasets import BaseDetDataset, LabelmeDataset, XMLDataset, YoloDataset

    metainfo = dict(classes=tuple(classes or ()))
    common = dict(serialize_data=False, strict=strict)
    if fmt == "coco":
        return CocoDataset(ann_file=source, data_prefix=dict(img=img_dir or osp.dirname(source)),
                           metainfo=metainfo, **common)
    if fmt == "middle":
        if classes:
            raise DatasetError(f"{source}: choosing classes is not supported for the middle "
                               f"format (its labels are numbers tied to its own class list)")
        return BaseDetDataset(ann_file=source, data_prefix=dict(img=img_dir or osp.dirname(source)),
                              **common)
    if fmt == "yolo":
        return YoloDataset(ann_file=source, split=split, metainfo=metainfo, **common)
    if fmt == "labelme":
        return LabelmeDataset(ann_file=source, metainfo=metainfo, **common)
    if fmt == "voc":
        root = img_dir or osp.dirname(osp.dirname(osp.dirname(osp.abspath(source))))
        if not classes:
            metainfo = dict(classes=_voc_class_names(root, source))
        img_subdir, suffix = _voc_image_subdir(root, source)
        return XMLDataset(ann_file=source, data_prefix=dict(sub_data_root=root),
                          img_subdir=img_subdir, img_suffix=suffix, metainfo=metainfo, **common)
    raise ValueError(f"unknown annotation format {fmt!r}")


def read_records(dataset) -> list[dict]:
    """Every record of ``dataset`` (through ``get_data_info``, so wrappers work too)."""
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def image_root(data_list: Sequence[dict]) -> str:
    """The deepest folder that contains every image of ``data_list``."""
    folders = [osp.dirname(osp.abspath(info["img_path"])) for info in data_list]
    return os.path.commonpath(folders) if folders else os.getcwd()
