"""Writing detection records (the data-list format of :mod:`base_det_dataset`) as
annotation files: COCO json, VOC XML, YOLO txt (+ data YAML), labelme json, middle format.

Writers never move images; they write annotations that point at where the images are
(COCO, labelme, middle format) or that sit where the format expects them next to the
images (VOC, YOLO). Each writer's output is read back by the matching dataset class.
Output is deterministic: the same records give byte-identical files.
"""

from __future__ import annotations

import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from detdatasets.datasets.mask_polygons import (
    instance_mask_to_bitmap,
    mask_area,
    mask_to_polygons,
    merge_polygons,
)


def _relative(path: str, root: str | os.PathLike) -> str:
    return Path(osp.relpath(path, root)).as_posix()


def _instance_area(instance: Mapping, height: int, width: int) -> float:
    if "area" in instance:
        return instance["area"]
    if instance.get("mask"):
        return mask_area(instance["mask"], height, width)
    x1, y1, x2, y2 = instance["bbox"]
    return (x2 - x1) * (y2 - y1)


def _polygons_of(instance: Mapping, height: int, width: int) -> list[list[float]]:
    """The instance's mask as polygons (RLE masks are traced), or [] without a mask."""
    mask = instance.get("mask")
    if not mask:
        return []
    if isinstance(mask, Mapping):
        return mask_to_polygons(instance_mask_to_bitmap(mask, height, width))
    return [list(p) for p in mask]


# ---------------------------------------------------------------------------- COCO
def to_coco(data_list: Sequence[Mapping], classes: Sequence[str], images_root: str | os.PathLike,
            cat_ids: Sequence[int] | None = None) -> dict:
    """A COCO annotation dict. ``file_name`` is relative to ``images_root``; category
    ids are ``cat_ids`` (default 1..K); ``ignore_flag`` becomes ``iscrowd``; image ids
    are the records' integer ``img_id`` when all are distinct ints, else 1..N."""
    cat_ids = list(cat_ids) if cat_ids is not None else list(range(1, len(classes) + 1))
    if len(cat_ids) != len(classes):
        raise ValueError(f"cat_ids has {len(cat_ids)} ids for {len(classes)} classes")
    ids = [info.get("img_id") for info in data_list]
    if not (all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)):
        ids = list(range(1, len(data_list) + 1))
    images, annotations = [], []
    for img_id, info in zip(ids, data_list):
        height, width = info["height"], info["width"]
        images.append(dict(id=img_id, file_name=_relative(info["img_path"], images_root),
                           width=width, height=height))
        for instance in info["instances"]:
            if instance["bbox_label"] < 0:
                continue  # an ignore region without a class has no COCO category
            x1, y1, x2, y2 = instance["bbox"]
            ann = dict(id=len(annotations) + 1, image_id=img_id,
                       category_id=cat_ids[instance["bbox_label"]], bbox=[x1, y1, x2 - x1, y2 - y1],
                       area=_instance_area(instance, height, width),
                       iscrowd=int(bool(instance.get("ignore_flag", 0))))
            if instance.get("mask"):
                ann["segmentation"] = instance["mask"]
            annotations.append(ann)
    categories = [dict(id=i, name=name) for i, name in zip(cat_ids, classes)]
    return dict(images=images, annotations=annotations, categories=categories)


def write_coco(path: str | os.PathLike, data_list: Sequence[Mapping], classes: Sequence[str],
               images_root: str | os.PathLike, cat_ids: Sequence[int] | None = None) -> None:
    """Write :func:`to_coco` as compact json."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    coco = to_coco(data_list, classes, images_root, cat_ids)
    path.write_text(json.dumps(coco, separators=(",", ":")))


# ---------------------------------------------------------------------------- VOC
def voc_xml(info: Mapping, classes: Sequence[str]) -> str:
    """The VOC XML of one record. Boxes become VOC's 1-based inclusive pixel indices:
    xmin = round(x1) + 1, xmax = round(x2) (x2 is exclusive); ``ignore_flag`` becomes
    ``difficult``. Masks are not part of the format."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = osp.basename(info["img_path"])
    size = ET.SubElement(root, "size")
    for key, value in (("width", info["width"]), ("height", info["height"]), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for instance in info["instances"]:
        if instance["bbox_label"] < 0:
            continue
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = classes[instance["bbox_label"]]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = str(int(bool(instance.get("ignore_flag", 0))))
        box = ET.SubElement(obj, "bndbox")
        x1, y1, x2, y2 = instance["bbox"]
        for key, value in (("xmin", round(x1) + 1), ("ymin", round(y1) + 1),
                           ("xmax", round(x2)), ("ymax", round(y2))):
            ET.SubElement(box, key).text = str(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_voc(root: str | os.PathLike, data_list: Sequence[Mapping], classes: Sequence[str],
              image_set: str, ids: Sequence[str], ann_subdir: str = "Annotations") -> None:
    """Write ``<root>/<ann_subdir>/<id>.xml`` per record and the id list
    ``<root>/ImageSets/Main/<image_set>.txt`` (ids may contain '/')."""
    root = Path(root)
    if len(ids) != len(data_list):
        raise ValueError(f"write_voc: {len(ids)} ids for {len(data_list)} records")
    for img_id, info in zip(ids, data_list):
        xml_path = root / ann_subdir / f"{img_id}.xml"
        xml_path.parent.mkdir(parents=True, exist_ok=True)
        xml_path.write_text(voc_xml(info, classes))
    image_sets = root / "ImageSets" / "Main"
    image_sets.mkdir(parents=True, exist_ok=True)
    (image_sets / f"{image_set}.txt").write_text("".join(f"{i}\n" for i in ids))


# ---------------------------------------------------------------------------- YOLO txt
def yolo_lines(info: Mapping, segments: bool = False) -> list[str]:
    """Label lines of one record: ``class cx cy w h`` normalised, or with ``segments``
    ``class x1 y1 ...`` (one polygon: parts are joined by seams) for masked instances.
    Ignored instances are left out: the format has no ignore flag."""
    height, width = info["height"], info["width"]
    lines = []
    for instance in info["instances"]:
        if instance.get("ignore_flag", 0) or instance["bbox_label"] < 0:
            continue
        polygon = merge_polygons(_polygons_of(instance, height, width)) if segments else []
        if polygon:
            coords = [v / (width if i % 2 == 0 else height) for i, v in enumerate(polygon)]
        else:
            x1, y1, x2, y2 = instance["bbox"]
            coords = [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width,
                      (y2 - y1) / height]
        coords = [min(max(c, 0.0), 1.0) for c in coords]
        lines.append(" ".join([str(instance["bbox_label"])] + [f"{c:.6f}" for c in coords]))
    return lines


def write_yolo_labels(data_list: Sequence[Mapping], segments: bool = False) -> None:
    """Write the label file of each record where Ultralytics looks for it: the image
    path with its last ``images`` folder replaced by ``labels`` and the suffix by .txt."""
    from detdatasets.datasets.yolo import label_path_of

    for info in data_list:
        label_path = label_path_of(osp.abspath(info["img_path"]))
        if label_path == osp.splitext(osp.abspath(info["img_path"]))[0] + ".txt":
            raise ValueError(f"{info['img_path']}: YOLO labels need the image inside an "
                             f"'images' folder (they go to the matching 'labels' folder)")
        Path(label_path).parent.mkdir(parents=True, exist_ok=True)
        Path(label_path).write_text("".join(f"{line}\n" for line in yolo_lines(info, segments)))


def write_yolo_data_yaml(path: str | os.PathLike, splits: Mapping[str, str],
                         classes: Sequence[str]) -> None:
    """Write a data YAML with no ``path`` key: Ultralytics and :class:`YoloDataset`
    then resolve the split folders (``splits``, e.g. {'train': 'images/train'})
    against the YAML's own folder, so the dataset can be moved."""
    lines = [f"{split}: {folder}" for split, folder in splits.items()]
    lines += ["nc: " + str(len(classes)), "names:"]
    lines += [f"  {i}: {json.dumps(name)}" for i, name in enumerate(classes)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- labelme
def labelme_record(info: Mapping, classes: Sequence[str], json_dir: str | os.PathLike) -> dict:
    """The labelme json of one record: polygons for masked instances (one shape per
    part, sharing a group_id), rectangles otherwise."""
    height, width = info["height"], info["width"]
    shapes = []
    for group_id, instance in enumerate(info["instances"]):
        if instance["bbox_label"] < 0:
            continue
        label = classes[instance["bbox_label"]]
        polygons = _polygons_of(instance, height, width)
        if polygons:
            shapes += [dict(label=label, points=[[p[i], p[i + 1]] for i in range(0, len(p), 2)],
                            group_id=group_id, shape_type="polygon", flags={})
                       for p in polygons]
        else:
            x1, y1, x2, y2 = instance["bbox"]
            shapes.append(dict(label=label, points=[[x1, y1], [x2, y2]], group_id=group_id,
                               shape_type="rectangle", flags={}))
    return dict(version="5.0.1", flags={}, shapes=shapes,
                imagePath=_relative(info["img_path"], json_dir), imageData=None,
                imageHeight=height, imageWidth=width)


def write_labelme(out_dir: str | os.PathLike, data_list: Sequence[Mapping],
                  classes: Sequence[str]) -> None:
    """One ``<image stem>.json`` per record in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = [osp.splitext(osp.basename(info["img_path"]))[0] for info in data_list]
    if len(set(stems)) != len(stems):
        raise ValueError("write_labelme: two images share a file name; labelme files are "
                         "named after their images")
    for stem, info in zip(stems, data_list):
        record = labelme_record(info, classes, out_dir)
        (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=2))


# ---------------------------------------------------------------------------- middle format
def write_middle(path: str | os.PathLike, data_list: Sequence[Mapping], metainfo: Mapping,
                 images_root: str | os.PathLike) -> None:
    """The middle format (json/yaml/pkl by suffix) with ``img_path`` relative to ``images_root``."""
    from detdatasets.datasets.annotation_files import dump_annotation_file

    records = []
    for info in data_list:
        record = {k: v for k, v in info.items() if k not in ("sample_idx",)}
        record["img_path"] = _relative(info["img_path"], images_root)
        records.append(record)
    meta = {k: list(v) if isinstance(v, tuple) else v for k, v in metainfo.items()}
    dump_annotation_file(dict(metainfo=meta, data_list=records), path)
