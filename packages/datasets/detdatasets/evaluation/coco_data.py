"""COCO ground truth and detection results as flat NumPy arrays.

The evaluator works on whole arrays, not on one dict per object. Loading follows
pycocotools: ground-truth ``area`` comes from the annotation, and results get their
``area``, ``id`` and missing ``bbox``/``segmentation`` the way ``COCO.loadRes`` gives them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

IOU_TYPES = ("bbox", "segm")


@dataclass
class CocoGroundTruth:
    """Images, categories and annotations of a COCO annotation file.

    Loaded once, it serves bbox and segm evaluation alike.
    """

    source: str
    img_ids: np.ndarray  # (I,) int64, in `images` order
    img_sizes: dict[int, tuple[int, int]]  # image id -> (height, width)
    cat_ids: np.ndarray  # (C,) int64, in `categories` order
    cat_names: list[str]
    ann_ids: np.ndarray  # (G,) int64
    image_ids: np.ndarray  # (G,) int64
    category_ids: np.ndarray  # (G,) int64
    boxes: np.ndarray  # (G, 4) xywh float64; NaN where an annotation has no bbox
    areas: np.ndarray  # (G,) float64
    iscrowd: np.ndarray  # (G,) int64
    ignore: np.ndarray  # (G,) bool `ignore` field; COCOeval overrides it, proposal_fast reads it
    segmentations: list  # raw `segmentation` fields (None where absent)


@dataclass
class CocoDetections:
    """Detection results (the list of result dicts COCO's ``loadRes`` takes).

    ``ids`` are 1..N in list order as ``loadRes`` numbers them; ``areas`` come from
    the box when the first result has a box, else from the mask (as ``loadRes``).
    """

    image_ids: np.ndarray  # (N,) int64
    category_ids: np.ndarray  # (N,) int64
    boxes: np.ndarray  # (N, 4) xywh float64
    scores: np.ndarray  # (N,) float64
    areas: np.ndarray  # (N,) float64
    segmentations: list | None


def load_ground_truth(gt: dict | str | os.PathLike) -> CocoGroundTruth:
    """Read a COCO annotation dict or JSON file into arrays; errors name the record."""
    dataset, source = _read_json(gt, "ground truth")
    if not isinstance(dataset, dict):
        raise ValueError(f"{source}: a COCO annotation file must hold a dict, got {type(dataset).__name__}")
    images = _records(dataset, "images", source)
    categories = _records(dataset, "categories", source)
    annotations = dataset.get("annotations") or []

    img_ids = _int_column(images, "id", source, "images")
    if len(np.unique(img_ids)) != len(img_ids):
        raise ValueError(f"{source}: duplicate image ids in 'images'")
    ann_ids = _int_column(annotations, "id", source, "annotations")
    unique_ids, counts = np.unique(ann_ids, return_counts=True)
    if len(unique_ids) != len(ann_ids):
        raise ValueError(f"{source}: annotation id {int(unique_ids[counts > 1][0])} is used more than once")
    boxes = np.full((len(annotations), 4), np.nan)  # NaN: no bbox (fine for segm evaluation)
    with_box = [i for i, a in enumerate(annotations) if not isinstance(a, dict) or "bbox" in a]
    boxes[with_box] = _box_column([annotations[i] for i in with_box], source, "annotations")
    return CocoGroundTruth(
        source=source,
        img_ids=img_ids,
        img_sizes={int(i["id"]): (i["height"], i["width"]) for i in images if "height" in i and "width" in i},
        cat_ids=_int_column(categories, "id", source, "categories"),
        cat_names=[str(c.get("name", c["id"])) for c in categories],
        ann_ids=ann_ids,
        image_ids=_int_column(annotations, "image_id", source, "annotations"),
        category_ids=_int_column(annotations, "category_id", source, "annotations"),
        boxes=boxes,
        areas=_float_column(annotations, "area", source, "annotations"),
        # pycocotools reads `iscrowd` (a missing one counts as 0) and overwrites `ignore` with it
        iscrowd=np.fromiter((int(a.get("iscrowd", 0)) for a in annotations), np.int64, len(annotations)),
        ignore=np.fromiter((bool(a.get("ignore", False)) for a in annotations), bool, len(annotations)),
        segmentations=[a.get("segmentation") for a in annotations],
    )


def load_detections(
    dets: Sequence[dict] | str | os.PathLike, gt: CocoGroundTruth, iou_type: str = "bbox"
) -> CocoDetections:
    """Read COCO results the way ``COCO.loadRes`` does: the first result decides the kind.

    If the first result has a non-empty ``bbox``, every ``area`` is the box's w*h and a
    missing ``segmentation`` becomes the box polygon; otherwise results are masks, the
    ``area`` is the mask area and a missing ``bbox`` is the mask's bounding box.
    """
    check_iou_type(iou_type)
    records, source = _read_json(dets, "detections")
    if not isinstance(records, list):
        raise ValueError(f"{source}: detection results must be a list of dicts, got {type(records).__name__}")
    image_ids = _int_column(records, "image_id", source, "results")
    unknown = np.setdiff1d(image_ids, gt.img_ids)
    if len(unknown):
        raise ValueError(
            f"{source}: results refer to image ids that are not in the ground truth's images "
            f"({gt.source}): {unknown[:5].tolist()}"
        )
    category_ids = _int_column(records, "category_id", source, "results")
    scores = _float_column(records, "score", source, "results")
    segmentations = None
    if not records:
        boxes, areas = np.zeros((0, 4)), np.zeros(0)
    elif "bbox" in records[0] and records[0]["bbox"] != []:
        boxes = _box_column(records, source, "results")
        areas = boxes[:, 2] * boxes[:, 3]
        if iou_type == "segm":
            segmentations = [
                r["segmentation"] if "segmentation" in r else _box_polygon(box)
                for r, box in zip(records, boxes.tolist())
            ]
    elif "segmentation" in records[0]:
        from pycocotools import mask as mask_utils

        segmentations = [
            to_rle(segm, gt.img_sizes, img)
            for segm, img in zip(_column(records, "segmentation", source, "results"), image_ids.tolist())
        ]
        # at most 255 RLEs per call: pycocotools' area() sizes its output with a uint8 under NumPy 2
        areas = np.concatenate(
            [np.zeros(0)] + [mask_utils.area(segmentations[i : i + 255]) for i in range(0, len(segmentations), 255)]
        ).astype(np.float64)
        boxes = mask_utils.toBbox(segmentations).reshape(-1, 4)
        given = [i for i, r in enumerate(records) if "bbox" in r]
        if given:
            boxes[given] = _box_column([records[i] for i in given], source, "results")
    else:
        raise ValueError(f"{source}: results[0] has neither a 'bbox' nor a 'segmentation'")
    return CocoDetections(image_ids, category_ids, boxes, scores, areas, segmentations)


def to_rle(segmentation: Any, img_sizes: dict[int, tuple[int, int]], image_id: int) -> dict:
    """A polygon list, uncompressed or compressed RLE as one compressed RLE (COCO.annToRLE)."""
    from pycocotools import mask as mask_utils

    is_polygon = isinstance(segmentation, list)
    if not (is_polygon or isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list)):
        return segmentation
    if image_id not in img_sizes:
        raise ValueError(f"image {image_id} needs 'height' and 'width' to turn a polygon or RLE list into a mask")
    h, w = img_sizes[image_id]
    if is_polygon:
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
    return mask_utils.frPyObjects(segmentation, h, w)


def check_iou_type(iou_type: str) -> None:
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")


def _box_polygon(box: list[float]) -> list[list[float]]:
    """The polygon loadRes gives a box result that has no segmentation."""
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


def _read_json(obj: Any, what: str) -> tuple[Any, str]:
    if isinstance(obj, str | os.PathLike):
        path = os.fspath(obj)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f), path
        except FileNotFoundError:
            raise FileNotFoundError(f"{what} file not found: {path}") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return obj, f"{what} {type(obj).__name__}"


def _records(dataset: dict, key: str, source: str) -> list:
    if key not in dataset:
        raise ValueError(f"{source}: missing the '{key}' list")
    return dataset[key]


def _column(records: Sequence[dict], field: str, source: str, what: str) -> list:
    try:
        return [r[field] for r in records]
    except (KeyError, TypeError):
        raise _bad_record(records, field, source, what, lambda value: value) from None


def _int_column(records: Sequence[dict], field: str, source: str, what: str) -> np.ndarray:
    try:
        return np.fromiter((r[field] for r in records), np.int64, len(records))
    except (KeyError, TypeError, ValueError):
        raise _bad_record(records, field, source, what, _as_int) from None


def _float_column(records: Sequence[dict], field: str, source: str, what: str) -> np.ndarray:
    try:
        return np.fromiter((r[field] for r in records), np.float64, len(records))
    except (KeyError, TypeError, ValueError):
        raise _bad_record(records, field, source, what, float) from None


def _box_column(records: Sequence[dict], source: str, what: str) -> np.ndarray:
    try:
        boxes = np.array([r["bbox"] for r in records], dtype=np.float64)
        if boxes.ndim == 2 and boxes.shape[1] == 4 or len(records) == 0:
            return boxes.reshape(len(records), 4)
    except (KeyError, TypeError, ValueError):
        pass
    raise _bad_record(records, "bbox", source, what, _as_box)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(value)
    return int(value)


def _as_box(value: Any) -> list[float]:
    box = [float(v) for v in value]
    if len(box) != 4:
        raise ValueError(value)
    return box


def _bad_record(records: Sequence[dict], field: str, source: str, what: str, convert: Callable) -> ValueError:
    """Find the first record whose ``field`` is missing or malformed and describe it."""
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return ValueError(f"{source}: {what}[{i}] is a {type(record).__name__}, not a dict")
        if field not in record:
            return ValueError(f"{source}: {what}[{i}] has no '{field}'")
        try:
            convert(record[field])
        except (TypeError, ValueError):
            return ValueError(f"{source}: {what}[{i}] has a malformed '{field}': {record[field]!r}")
    return ValueError(f"{source}: malformed '{field}' in {what}")
