"""CocoDataset: COCO-format detection and instance segmentation annotations."""

from __future__ import annotations

import numbers
import os.path as osp
from collections import defaultdict
from collections.abc import Mapping

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.class_names import COCO_CLASSES, COCO_PALETTE
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox
from detdatasets.io.image_io import image_size


class CocoDataset(BaseDetDataset):
    """A COCO json (``images``, ``annotations``, ``categories``) as detection records.

    - bbox ``[x, y, w, h]`` becomes ``[x, y, x + w, y + h]`` (no +1).
    - Category ids (any integers, e.g. COCO's 1..90 with gaps) map to labels 0..K-1 in
      the order of ``metainfo['classes']``, matched by name; ``cat_ids[k]`` is the
      category id of label k and ``cat2label`` the inverse. (MMDetection numbers them in
      the file's category order instead; the two agree whenever the classes are listed
      in file order, as they are for COCO.) Annotations of categories left out of the
      classes are dropped; ``metainfo=dict(classes=())`` takes all the file's categories.
    - Image records without ``width``/``height`` get them from the image header.
    - ``iscrowd=1`` becomes ``ignore_flag=1``; ``segmentation`` (polygons or RLE) is kept
      as ``mask``. Annotations marked ``ignore`` and boxes under 1 pixel wide or high
      are skipped silently, as MMDetection does.
    - Bad input (unknown category id, box outside the image or of non-positive size,
      image record without a file, missing image file, no annotations at all outside
      test mode) raises, or with ``strict=False`` is skipped with a counted warning.
    """

    METAINFO = {"classes": COCO_CLASSES, "palette": COCO_PALETTE}

    def load_data_list(self) -> list[dict]:
        coco = load_annotation_file(self.ann_file)
        if not isinstance(coco, Mapping) or not isinstance(coco.get("images"), list):
            raise DatasetError(f"{self.ann_file}: not a COCO annotation file: it needs a list "
                               f"'images' (and 'annotations', 'categories')")
        bad = self.new_bad_records()
        self._map_categories(coco.get("categories") or [])
        annotations = coco.get("annotations") or []
        if not annotations and not self.test_mode:
            bad.reject("'annotations'", "the file has no annotations; a test set without "
                                        "labels needs test_mode=True")
        images = self._index_images(coco["images"], bad)
        anns_by_image = self._group_annotations(annotations, images, bad)
        data_list = []
        for img_id, img in images.items():
            info = self._parse_image(img_id, img, anns_by_image.get(img_id, []), bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        return data_list

    # ------------------------------------------------------------------ categories
    def _map_categories(self, categories: list) -> None:
        by_name: dict[str, int] = {}
        self.file_cat_ids: set = set()
        for i, category in enumerate(categories):
            if not isinstance(category, Mapping) or "id" not in category or "name" not in category:
                raise DatasetError(f"{self.ann_file}: categories[{i}] needs an 'id' and a 'name', "
                                   f"got {category!r}")
            if category["name"] in by_name:
                raise DatasetError(f"{self.ann_file}: category name '{category['name']}' is used "
                                   f"by ids {by_name[category['name']]} and {category['id']}")
            by_name[category["name"]] = category["id"]
            self.file_cat_ids.add(category["id"])
        if not self.classes:  # metainfo=dict(classes=()): take the file's categories
            self._metainfo["classes"] = tuple(by_name)
        missing = [name for name in self.classes if name not in by_name]
        if missing:
            raise DatasetError(
                f"{self.ann_file}: classes {missing} of the dataset's metainfo are not categories "
                f"of this file, whose categories are {list(by_name)}; set "
                f"metainfo=dict(classes=(...)) to the classes you want")
        self.cat_ids = [by_name[name] for name in self.classes]
        self.cat2label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}

    # ------------------------------------------------------------------ images and annotations
    def _index_images(self, records: list, bad: BadRecords) -> dict:
        images: dict = {}
        for i, img in enumerate(records):
            where = f"images[{i}]" + (f" (id {img.get('id')})" if isinstance(img, Mapping) else "")
            if not isinstance(img, Mapping):
                bad.reject(where, f"must be a dict, got {type(img).__name__}")
                continue
            missing = [k for k in ("id", "file_name") if k not in img]
            if missing:
                bad.reject(where, f"lacks {', '.join(repr(k) for k in missing)}")
            elif img["id"] in images:
                bad.reject(where, f"duplicate image id {img['id']}")
            else:
                images[img["id"]] = img
        return images

    def _group_annotations(self, annotations: list, images: dict, bad: BadRecords) -> dict:
        by_image: dict = defaultdict(list)
        seen_ids: set = set()
        for i, ann in enumerate(annotations):
            if not isinstance(ann, Mapping):
                bad.reject(f"annotations[{i}]", f"must be a dict, got {type(ann).__name__}")
                continue
            where = f"annotation id {ann.get('id')} (annotations[{i}])"
            if ann.get("id") in seen_ids:
                bad.reject(where, "duplicate annotation id")
            elif ann.get("image_id") not in images:
                bad.reject(where, f"refers to image_id {ann.get('image_id')!r}, which is not in "
                                  f"'images'")
            elif ann.get("category_id") not in self.file_cat_ids:
                bad.reject(where, f"unknown category_id {ann.get('category_id')!r}; the file's "
                                  f"category ids are {sorted(self.file_cat_ids)}")
            else:
                seen_ids.add(ann.get("id"))
                by_image[ann["image_id"]].append(ann)
        return by_image

    def _parse_image(self, img_id, img: Mapping, anns: list, bad: BadRecords) -> dict | None:
        img_path = self.image_path(img["file_name"])
        if self.image_missing(img_path):
            bad.reject(f"image id {img_id}", f"image file not found: {img_path}")
            return None
        if "width" in img and "height" in img:
            width, height = img["width"], img["height"]
        else:  # some COCO-style files leave the size out: read it from the image header
            width, height = image_size(img_path)
        instances = []
        for ann in anns:
            instance = self._parse_annotation(ann, img_id, width, height, bad)
            if instance is not None:
                instances.append(instance)
        info = dict(img_path=img_path, img_id=img_id, height=height, width=width,
                    instances=instances)
        if "seg" in self.data_prefix:
            stem = osp.splitext(img["file_name"])[0]
            info["seg_map_path"] = osp.join(self.data_prefix["seg"], stem + self.seg_map_suffix)
        return info

    def _parse_annotation(self, ann: Mapping, img_id, width, height,
                          bad: BadRecords) -> dict | None:
        label = self.cat2label.get(ann["category_id"])
        if label is None or ann.get("ignore", False):
            return None
        where = f"annotation id {ann.get('id')} (image id {img_id})"
        box = ann.get("bbox")
        if not (isinstance(box, (list, tuple)) and len(box) == 4
                and all(type(v) in (int, float) or isinstance(v, numbers.Real) for v in box)):
            bad.reject(where, f"bbox must be [x, y, w, h], got {box!r}")
            return None
        x, y, w, h = box
        bbox = [x, y, x + w, y + h]
        problem = check_bbox(bbox, width, height)
        if problem:
            bad.reject(where, f"{problem} (COCO bbox [x, y, w, h] = {list(box)})")
            return None
        if ann.get("area", w * h) <= 0 or w < 1 or h < 1:
            return None
        instance = dict(bbox=bbox, bbox_label=label, ignore_flag=int(bool(ann.get("iscrowd", 0))))
        segmentation = ann.get("segmentation")
        if segmentation:
            if not isinstance(segmentation, (list, Mapping)):
                bad.reject(where, f"segmentation must be polygons (a list) or RLE (a dict), got "
                                  f"{type(segmentation).__name__}")
                return None
            instance["mask"] = segmentation
        return instance
