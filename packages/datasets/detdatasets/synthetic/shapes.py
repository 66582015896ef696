"""The synthetic "shapes" dataset: the embedded default dataset of the toolbox.

Seven classes of filled polygons, ellipses and rings over textured, cluttered
backgrounds, with occlusion, objects from 8 % to 60 % of the image side and exact
instance masks (see :mod:`detdatasets.synthetic.render`). It needs no download and is
byte-for-byte identical for a given seed.

Images are 256 x 256 by default: a YOLOv8n forward pass then costs (256 / 640)^2, about
16 %, of its cost at 640 pixels, so a CPU trains on thousands of images in minutes,
and the smallest objects (about 20 pixels) still span several cells of the stride-8
feature map. Layout under ``root``::

    images/{train,val}/000001.jpg           the images
    annotations/instances_{train,val}.json  COCO (polygons from the visible masks, areas)
    Annotations/{train,val}/000001.xml      VOC XML, on request ('voc'); id lists in
    ImageSets/Main/{train,val}.txt          ImageSets (ids like 'train/000001')
    labels/{train,val}/000001.txt           YOLO txt, on request ('yolo'), with
    data.yaml                               the Ultralytics data YAML
    shapes_dataset.json                     marker: the generation parameters

Read it with ``CocoDataset(data_root=root, ann_file='annotations/instances_train.json',
data_prefix=dict(img='images/train/'), metainfo=dict(classes=SHAPE_CLASSES))``, or
``YoloDataset(ann_file=root/'data.yaml', split='train')``, or ``XMLDataset(data_root=root,
ann_file='ImageSets/Main/train.txt', img_subdir='images', metainfo=...)``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2

from detdatasets.datasets.class_names import make_palette
from detdatasets.datasets.writers import (
    write_coco,
    write_voc,
    write_yolo_data_yaml,
    write_yolo_labels,
)
from detdatasets.synthetic.render import SHAPE_CLASSES, ShapesConfig, generate_image

#: Bump when the rendering changes, so that datasets made by older code are regenerated.
GENERATOR_VERSION = 1
MARKER_FILE = "shapes_dataset.json"
FORMATS = ("coco", "voc", "yolo")
IMAGE_FORMATS = {"jpg": [cv2.IMWRITE_JPEG_QUALITY, 92], "png": [cv2.IMWRITE_PNG_COMPRESSION, 3]}

__all__ = ["SHAPE_CLASSES", "ShapesConfig", "generate_shapes_dataset", "ensure_shapes_dataset",
           "default_shapes_root", "shapes_metainfo"]


def shapes_metainfo() -> dict:
    """``metainfo`` for datasets that read the shapes dataset."""
    return {"classes": SHAPE_CLASSES, "palette": make_palette(len(SHAPE_CLASSES))}


def default_shapes_root() -> Path:
    """Where configs find the default shapes dataset: ``$DETCORE_DATA/shapes``, else
    ``~/.cache/detcore/shapes``."""
    base = os.environ.get("DETCORE_DATA")
    return Path(base) / "shapes" if base else Path.home() / ".cache" / "detcore" / "shapes"


def _parameters(num_train: int, num_val: int, seed: int, formats: Sequence[str],
                img_format: str, config: ShapesConfig) -> dict:
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; choose from {FORMATS}")
    if img_format not in IMAGE_FORMATS:
        raise ValueError(f"img_format must be one of {list(IMAGE_FORMATS)}, got {img_format!r}")
    if num_train < 0 or num_val < 0:
        raise ValueError(f"image counts must be >= 0, got {num_train}, {num_val}")
    return dict(generator_version=GENERATOR_VERSION, num_train=num_train, num_val=num_val,
                seed=seed, formats=sorted(set(formats) | {"coco"}), img_format=img_format,
                config=config.to_dict())


def _render_and_save(args: tuple) -> dict:
    """Render image ``index`` of ``split``, write it, return its record (worker function)."""
    root, split, index, seed, img_format, config = args
    img, instances = generate_image(config, seed, split, index)
    img_id = index + 1
    img_path = Path(root) / "images" / split / f"{img_id:06d}.{img_format}"
    ok, encoded = cv2.imencode(f".{img_format}", img, IMAGE_FORMATS[img_format])
    if not ok:
        raise RuntimeError(f"cannot encode {img_path}")
    img_path.write_bytes(encoded.tobytes())
    return dict(img_id=img_id, img_path=str(img_path), height=img.shape[0], width=img.shape[1],
                instances=instances)


def generate_shapes_dataset(root: str | os.PathLike, num_train: int = 1000, num_val: int = 200,
                            seed: int = 0, formats: Sequence[str] = ("coco",),
                            img_format: str = "jpg", config: ShapesConfig | None = None,
                            workers: int = 1, progress: bool = True) -> Path:
    """Write the dataset under ``root`` (see the module docstring for the layout).

    ``formats`` adds 'voc' and/or 'yolo' to COCO, which is always written. ``workers``
    processes render in parallel; the files do not depend on it.
    """
    config = config or ShapesConfig()
    params = _parameters(num_train, num_val, seed, formats, img_format, config)
    root = Path(root)
    splits = {"train": num_train, "val": num_val}
    jobs = [(str(root), split, i, seed, img_format, config)
            for split, count in splits.items() for i in range(count)]
    for split in splits:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
    records = _run(jobs, workers, progress)
    for split in splits:
        data_list = [r for r, job in zip(records, jobs) if job[1] == split]
        write_coco(root / "annotations" / f"instances_{split}.json", data_list, SHAPE_CLASSES,
                   images_root=root / "images" / split)
        if "voc" in params["formats"]:
            ids = [f"{split}/{r['img_id']:06d}" for r in data_list]
            write_voc(root, data_list, SHAPE_CLASSES, image_set=split, ids=ids)
        if "yolo" in params["formats"]:
            write_yolo_labels(data_list)
    if "yolo" in params["formats"]:
        write_yolo_data_yaml(root / "data.yaml", {s: f"images/{s}" for s in splits},
                             SHAPE_CLASSES)
    (root / MARKER_FILE).write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    return root


def _run(jobs: list, workers: int, progress: bool) -> list[dict]:
    from tqdm import tqdm

    bar = dict(total=len(jobs), desc="shapes dataset", unit="img", disable=not progress)
    if workers <= 1 or len(jobs) < 2 * workers:
        return [_render_and_save(job) for job in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_render_and_save, jobs, chunksize=16), **bar))


def _matches(root: Path, params: dict) -> bool:
    """True when ``root`` holds a complete dataset made with ``params`` (or a superset of
    its formats)."""
    try:
        existing = json.loads((root / MARKER_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    formats = set(existing.pop("formats", []))
    wanted = dict(params)
    return set(wanted.pop("formats")) <= formats and existing == wanted


def ensure_shapes_dataset(root: str | os.PathLike | None = None, num_train: int = 1000,
                          num_val: int = 200, seed: int = 0, formats: Sequence[str] = ("coco",),
                          img_format: str = "jpg", config: ShapesConfig | None = None,
                          workers: int = 1, progress: bool = True) -> Path:
    """Generate the dataset at ``root`` (default :func:`default_shapes_root`) unless it
    is already there with these parameters; return ``root``.

    The marker file records the parameters and is written last, so an interrupted run
    is redone. A dataset with other parameters is replaced; a non-empty folder
    without a marker is refused rather than overwritten. Generation happens in a
    temporary sibling folder that is renamed into place, so concurrent callers (e.g.
    the ranks of a distributed job) never see half a dataset.
    """
    root = Path(root) if root is not None else default_shapes_root()
    config = config or ShapesConfig()
    params = _parameters(num_train, num_val, seed, formats, img_format, config)
    if _matches(root, params):
        return root
    if root.exists() and any(root.iterdir()) and not (root / MARKER_FILE).exists():
        raise FileExistsError(f"{root} exists, is not empty and holds no {MARKER_FILE}: it was "
                              f"not made by the shapes generator; choose another folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        generate_shapes_dataset(staging, num_train, num_val, seed, formats, img_format, config,
                                workers, progress)
        if _matches(root, params):  # another process finished first
            return root
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    except OSError:
        if not _matches(root, params):
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
