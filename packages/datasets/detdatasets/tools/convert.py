"""``detcore data convert``: annotations from one format to another.

The source is read by its dataset class (so it is checked as training would check
it), giving records with absolute image paths; a writer of
:mod:`detdatasets.datasets.writers` then writes the target format. VOC and YOLO fix
where images must be relative to their annotations, so for them the images are copied
or linked into place; the other formats refer to the images where they are.
"""

from __future__ import annotations

import os
import os.path as osp
import shutil
from pathlib import Path

from detdatasets.datasets.errors import DatasetError
from detdatasets.datasets.writers import (
    write_coco,
    write_labelme,
    write_middle,
    write_voc,
    write_yolo_data_yaml,
    write_yolo_labels,
)
from detdatasets.tools.readers import image_root, open_dataset, read_records

IMAGE_MODES = ("copy", "symlink", "hardlink", "none")


def place_image(src: str, dst: Path, mode: str) -> None:
    """Put image ``src`` at ``dst`` by copying or linking it (nothing for 'none')."""
    if mode == "none" or osp.abspath(src) == osp.abspath(dst):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if mode == "copy":
        shutil.copyfile(src, dst)
    elif mode == "symlink":
        os.symlink(osp.abspath(src), dst)
    elif mode == "hardlink":
        os.link(src, dst)
    else:
        raise ValueError(f"image mode must be one of {IMAGE_MODES}, got {mode!r}")


def _unique_stems(data_list: list[dict]) -> list[str]:
    stems = [osp.splitext(osp.basename(info["img_path"]))[0] for info in data_list]
    seen: dict[str, str] = {}
    for stem, info in zip(stems, data_list):
        if stem in seen:
            raise DatasetError(f"two images are both named '{stem}' ({seen[stem]} and "
                               f"{info['img_path']}); VOC and YOLO name files after images")
        seen[stem] = info["img_path"]
    return stems


def _relocate(data_list: list[dict], folder: Path, mode: str) -> list[dict]:
    """Records whose images are placed in ``folder`` (same file names)."""
    moved = []
    for stem, info in zip(_unique_stems(data_list), data_list):
        target = folder / (stem + osp.splitext(info["img_path"])[1])
        place_image(info["img_path"], target, mode)
        moved.append(dict(info, img_path=str(target)))
    return moved


def _merge_yolo_yaml(path: Path, split: str, classes: tuple[str, ...]) -> None:
    """Add ``split`` to the data YAML at ``path``, keeping splits already written there."""
    splits = {}
    if path.exists():
        from detdatasets.datasets.annotation_files import load_annotation_file
        from detdatasets.datasets.yolo import class_names_of

        existing = load_annotation_file(path)
        if class_names_of(existing, str(path)) != classes:
            raise DatasetError(f"{path} already names other classes "
                               f"{list(class_names_of(existing, str(path)))}; write to another "
                               f"folder")
        splits = {k: existing[k] for k in ("train", "val", "test") if existing.get(k)}
    splits[split] = f"images/{split}"
    write_yolo_data_yaml(path, splits, classes)


def convert(args) -> str:
    """Run the conversion described by the command-line ``args``; return a summary line."""
    dataset = open_dataset(args.src_format, args.src, img_dir=args.img_dir, split=args.split,
                           classes=args.classes, strict=not args.non_strict)
    data_list = read_records(dataset)
    metainfo = dataset.metainfo
    classes = tuple(metainfo["classes"])
    dst = Path(args.dst)
    mode = args.images or ("copy" if args.dst_format in ("voc", "yolo") else "none")
    if args.dst_format == "coco":
        if mode != "none":
            data_list = _relocate(data_list, dst.parent / "images", mode)
        root = image_root(data_list)
        cat_ids = getattr(dataset, "cat_ids", None) if args.src_format == "coco" else None
        write_coco(dst, data_list, classes, images_root=root, cat_ids=cat_ids)
        where = f"image folder (data_prefix img): {root}"
    elif args.dst_format == "voc":
        data_list = _relocate(data_list, dst / "JPEGImages", mode)
        write_voc(dst, data_list, classes, image_set=args.split, ids=_unique_stems(data_list))
        suffixes = {osp.splitext(info["img_path"])[1] for info in data_list}
        where = f"VOC root (data_prefix sub_data_root): {dst}" + (
            f"; image suffixes {sorted(suffixes)}: pass img_suffix to XMLDataset"
            if suffixes - {".jpg"} else "")
    elif args.dst_format == "yolo":
        data_list = _relocate(data_list, dst / "images" / args.split, mode)
        write_yolo_labels(data_list, segments=args.segments)
        _merge_yolo_yaml(dst / "data.yaml", args.split, classes)
        where = f"data YAML: {dst / 'data.yaml'}"
    elif args.dst_format == "labelme":
        if mode != "none":
            data_list = _relocate(data_list, dst, mode)
        write_labelme(dst, data_list, classes)
        where = f"labelme folder: {dst}"
    else:
        if mode != "none":
            data_list = _relocate(data_list, dst.parent / "images", mode)
        root = image_root(data_list)
        write_middle(dst, data_list, metainfo, images_root=root)
        where = f"image folder (data_prefix img): {root}"
    objects = sum(len(info["instances"]) for info in data_list)
    return (f"converted {len(data_list)} images, {objects} objects, {len(classes)} classes "
            f"from {args.src_format} to {args.dst_format}; {where}")
