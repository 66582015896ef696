"""YoloDataset: the YOLO txt format that Ultralytics uses.

Layout: a data YAML (``train: images/train``, ``val: images/val``, ``names: {0: a, ...}``
or a list, optional ``path``) and, for each image ``.../images/.../x.jpg``, a label file
``.../labels/.../x.txt`` whose lines are ``class cx cy w h`` (normalised to [0, 1]) or
``class x1 y1 x2 y2 ...`` (a normalised polygon; its box is the polygon's extent).
A missing or empty label file means an image without objects.
"""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Mapping

from detdatasets.datasets.annotation_files import load_annotation_file
from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.errors import BadRecords, DatasetError, check_bbox
from detdatasets.io.image_io import image_size

IMAGE_SUFFIXES = (".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp",
                  ".pfm", ".heic")

#: Normalised coordinates may overshoot [0, 1] by rounding; beyond this they are an error.
_TOLERANCE = 0.01


def label_path_of(img_path: str) -> str:
    """Ultralytics' rule: replace the last ``/images/`` by ``/labels/`` and the suffix by .txt."""
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return osp.splitext(labels.join(img_path.rsplit(images, 1)))[0] + ".txt"


def class_names_of(data: Mapping, source: str) -> tuple[str, ...]:
    """The ``names`` of a data YAML (a list, or a dict from 0..K-1) as a tuple."""
    names = data.get("names")
    if isinstance(names, Mapping):
        if sorted(int(k) for k in names) != list(range(len(names))):
            raise DatasetError(f"{source}: 'names' keys must be 0..{len(names) - 1}, got "
                               f"{sorted(names)}")
        return tuple(str(names[k]) for k in sorted(names, key=int))
    if isinstance(names, list):
        return tuple(str(n) for n in names)
    raise DatasetError(f"{source}: needs 'names' (a list or a dict of class names), got "
                       f"{names!r}")


class YoloDataset(BaseDetDataset):
    """One split (``split='train'``, ``'val'``, ...) of a YOLO txt dataset.

    Args:
        ann_file: the data YAML. Its ``path`` (relative paths are resolved against the
            YAML's folder, absent means that folder) is the dataset root; the split entry
            is a folder of images, a .txt list of image paths, or a list of those.
        split: which entry of the YAML to read.
        metainfo: ``classes`` defaults to the YAML's ``names``; a subset of them keeps
            only those classes (renumbered in the given order).
    """

    def __init__(self, *args, split: str = "train", **kwargs):
        self.split = split
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        data = load_annotation_file(self.ann_file)
        if not isinstance(data, Mapping):
            raise DatasetError(f"{self.ann_file}: a data YAML must be a mapping")
        names = class_names_of(data, self.ann_file)
        if not self.classes:
            self._metainfo["classes"] = names
        unknown = [c for c in self.classes if c not in names]
        if unknown:
            raise DatasetError(f"{self.ann_file}: classes {unknown} of the metainfo are not in "
                               f"the YAML's names {list(names)}")
        self.index_to_label = {names.index(c): label for label, c in enumerate(self.classes)}
        self.num_file_classes = len(names)
        bad = self.new_bad_records()
        img_paths = self._image_paths(data)
        if not img_paths:
            bad.reject(f"split '{self.split}'", "has no images")
        data_list = []
        for img_path in img_paths:
            info = self._parse_image(img_path, bad)
            if info is not None:
                data_list.append(info)
        bad.warn_summary()
        return data_list

    def _image_paths(self, data: Mapping) -> list[str]:
        folder = osp.dirname(osp.abspath(self.ann_file))
        root = osp.join(folder, data["path"]) if data.get("path") else folder
        entry = data.get(self.split)
        if not entry:
            raise DatasetError(f"{self.ann_file}: has no split '{self.split}' (its keys: "
                               f"{sorted(data)})")
        paths: list[str] = []
        for item in entry if isinstance(entry, list) else [entry]:
            location = osp.join(root, str(item))
            if osp.isdir(location):
                paths += sorted(osp.join(dirpath, f) for dirpath, _, files in os.walk(location)
                                for f in files if osp.splitext(f)[1].lower() in IMAGE_SUFFIXES)
            elif osp.isfile(location) and location.endswith(".txt"):
                with open(location) as f:
                    lines = [line.strip() for line in f if line.strip()]
                base = osp.dirname(location)
                paths += [osp.normpath(osp.join(base, p)) for p in lines]
            else:
                raise DatasetError(f"{self.ann_file}: split '{self.split}' entry {item!r} is "
                                   f"neither a folder nor a .txt image list ({location})")
        return paths

    def _parse_image(self, img_path: str, bad: BadRecords) -> dict | None:
        img_id = osp.splitext(osp.basename(img_path))[0]
        if not osp.isfile(img_path):
            bad.reject(f"image {img_id}", f"image file not found: {img_path}")
            return None
        width, height = image_size(img_path)
        label_path = label_path_of(img_path)
        instances = []
        if osp.isfile(label_path):
            with open(label_path) as f:
                for line_no, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    instance = self._parse_line(line, f"{label_path} line {line_no}", width,
                                                height, bad)
                    if instance is False:
                        return None
                    if instance is not None:
                        instances.append(instance)
        return dict(img_id=img_id, img_path=img_path, height=height, width=width,
                    instances=instances)

    def _parse_line(self, line: str, where: str, width: int, height: int,
                    bad: BadRecords) -> dict | None | bool:
        """An instance, None for a class left out of the classes, False for a bad line."""
        fields = line.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            bad.reject(where, f"not numbers: {line.strip()!r}")
            return False
        if len(values) != 5 and (len(values) < 7 or len(values) % 2 == 0):
            bad.reject(where, f"expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 ...', "
                              f"got {len(values)} values")
            return False
        index = values[0]
        if index != int(index) or not 0 <= index < self.num_file_classes:
            bad.reject(where, f"unknown class index {fields[0]} (the YAML names "
                              f"{self.num_file_classes} classes)")
            return False
        coords = values[1:]
        if min(coords) < -_TOLERANCE or max(coords) > 1 + _TOLERANCE:
            bad.reject(where, "coordinates must be normalised to [0, 1]")
            return False
        label = self.index_to_label.get(int(index))
        if label is None:
            return None
        if len(values) == 5:
            cx, cy, w, h = coords
            bbox = [(cx - w / 2) * width, (cy - h / 2) * height,
                    (cx + w / 2) * width, (cy + h / 2) * height]
            polygon = None
        else:
            polygon = [v * (width if i % 2 == 0 else height) for i, v in enumerate(coords)]
            xs, ys = polygon[0::2], polygon[1::2]
            bbox = [min(xs), min(ys), max(xs), max(ys)]
        problem = check_bbox(bbox, width, height)
        if problem:
            bad.reject(where, problem)
            return False
        instance = dict(bbox=bbox, bbox_label=label, ignore_flag=0)
        if polygon is not None:
            instance["mask"] = [polygon]
        return instance
