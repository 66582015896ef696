"""``detcore data browse``: draw a dataset's annotations onto its images.

Without a pipeline the records are drawn onto the image files as stored. With
``--pipeline`` (configs only) each sample goes through the dataset's pipeline first and
the transformed image and boxes are drawn, which shows what the model will be fed.
"""

from __future__ import annotations

import argparse
import copy
import os.path as osp
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from detdatasets.datasets.class_names import make_palette
from detdatasets.datasets.mask_polygons import instance_mask_to_bitmap
from detdatasets.io.image_io import imread, imwrite

IGNORE_COLOUR = (160, 160, 160)  # BGR grey for crowd / difficult / ignore regions
MASK_ALPHA = 0.45


def draw_instances(img: np.ndarray, instances: Sequence[Mapping], classes: Sequence[str],
                   palette: Sequence[Sequence[int]] | None = None, draw_masks: bool = True
                   ) -> np.ndarray:
    """A copy of BGR ``img`` with each instance's mask, box and class name drawn.

    ``instances``: dicts with ``bbox`` (xyxy), ``bbox_label``, optional ``ignore_flag``
    and ``mask`` (polygons, RLE, or an (H, W) array). ``palette`` is RGB per class.
    Ignored instances are drawn in grey with a thin box.
    """
    canvas = np.ascontiguousarray(img.copy() if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    height, width = canvas.shape[:2]
    palette = list(palette) if palette else make_palette(max(len(classes), 1))
    for instance in instances:
        label = int(instance["bbox_label"])
        ignored = bool(instance.get("ignore_flag", 0)) or label < 0
        colour = IGNORE_COLOUR if ignored else tuple(int(c) for c in palette[label % len(palette)][::-1])
        mask = instance.get("mask")
        if draw_masks and mask is not None and len(mask):
            bitmap = (mask if isinstance(mask, np.ndarray)
                      else instance_mask_to_bitmap(mask, height, width)).astype(bool)
            canvas[bitmap] = (canvas[bitmap] * (1 - MASK_ALPHA)
                              + np.array(colour) * MASK_ALPHA).astype(np.uint8)
        x1, y1, x2, y2 = (int(round(float(v))) for v in instance["bbox"])
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), colour, 1 if ignored else 2)
        name = "ignore" if label < 0 else (classes[label] if label < len(classes) else str(label))
        _put_label(canvas, name + (" (ignored)" if ignored and label >= 0 else ""), (x1, y1), colour)
    return canvas


def _put_label(canvas: np.ndarray, text: str, corner: tuple[int, int], colour) -> None:
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    (w, h), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = corner[0], max(corner[1], h + baseline)
    cv2.rectangle(canvas, (x, y - h - baseline), (x + w, y), colour, -1)
    brightness = 0.299 * colour[2] + 0.587 * colour[1] + 0.114 * colour[0]
    text_colour = (0, 0, 0) if brightness > 140 else (255, 255, 255)
    cv2.putText(canvas, text, (x, y - baseline), font, scale, text_colour, thickness, cv2.LINE_AA)


# ---------------------------------------------------------------------------- pipeline outputs
def _numpy(value) -> np.ndarray:
    """A tensor, box or mask structure, or array as a numpy array."""
    for attr in ("tensor", "masks"):
        if hasattr(value, attr) and not isinstance(value, np.ndarray):
            value = getattr(value, attr)
    if hasattr(value, "to_ndarray"):
        value = value.to_ndarray()
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def sample_to_drawable(sample: Mapping) -> tuple[np.ndarray, list[dict]]:
    """(BGR image, instances) from a pipeline's output: a results dict (``img``,
    ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags``, ``gt_masks``) or a packed
    one (``inputs`` (C, H, W) and ``data_samples`` with ``gt_instances``)."""
    if "inputs" in sample and "data_samples" in sample:
        img = _numpy(sample["inputs"]).transpose(1, 2, 0)
        data_sample = sample["data_samples"]
        parts = [(data_sample.gt_instances, 0)]
        if "ignored_instances" in data_sample:
            parts.append((data_sample.ignored_instances, 1))
        instances = []
        for group, ignore in parts:
            if len(group) == 0:
                continue
            boxes, labels = _numpy(group.bboxes), _numpy(group.labels)
            masks = _numpy(group.masks) if "masks" in group else None
            for i in range(len(boxes)):
                instances.append(dict(bbox=boxes[i].tolist(), bbox_label=int(labels[i]),
                                      ignore_flag=ignore,
                                      mask=None if masks is None else masks[i]))
        return np.clip(img, 0, 255).astype(np.uint8), instances
    img = _numpy(sample["img"])
    boxes = _numpy(sample.get("gt_bboxes", np.zeros((0, 4))))
    labels = _numpy(sample.get("gt_bboxes_labels", np.zeros(len(boxes), int)))
    ignore = _numpy(sample.get("gt_ignore_flags", np.zeros(len(boxes), bool)))
    masks = _numpy(sample["gt_masks"]) if sample.get("gt_masks") is not None else None
    instances = [dict(bbox=boxes[i].tolist(), bbox_label=int(labels[i]), ignore_flag=int(ignore[i]),
                      mask=None if masks is None else masks[i]) for i in range(len(boxes))]
    return np.clip(img, 0, 255).astype(np.uint8), instances


# ---------------------------------------------------------------------------- the command
def _without_pipelines(cfg):
    """A copy of a dataset config with every ``pipeline`` emptied (wrappers included)."""
    if isinstance(cfg, Mapping):
        return {k: [] if k == "pipeline" else _without_pipelines(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_without_pipelines(v) for v in cfg)
    return cfg


def _config_dataset(args):
    from detcore.cli_commands import load_config
    from detcore.registry import DATASETS

    cfg = load_config(argparse.Namespace(config=args.source, cfg_options=args.cfg_options))
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    if args.dataloader not in cfg or "dataset" not in cfg[args.dataloader]:
        from detcore.cli import UserError

        raise UserError(f"{args.source}: the config has no '{args.dataloader}.dataset'; choose "
                        f"another with --dataloader")
    dataset_cfg = copy.deepcopy(cfg[args.dataloader]["dataset"])
    return DATASETS.build(dataset_cfg if args.pipeline else _without_pipelines(dataset_cfg))


def browse(args) -> int:
    """Draw the first ``args.num`` images of the source; returns how many were written."""
    from detdatasets.tools.readers import guess_format, open_dataset

    fmt = guess_format(args.source) if args.format == "auto" else args.format
    if args.pipeline and fmt != "config":
        from detcore.cli import UserError

        raise UserError("--pipeline needs a config file as SOURCE (the pipeline comes from it)")
    if fmt == "config":
        dataset = _config_dataset(args)
    else:
        dataset = open_dataset(fmt, args.source, img_dir=args.img_dir, split=args.split,
                               classes=args.classes)
    metainfo = dataset.metainfo
    classes = tuple(metainfo.get("classes", ()))
    palette = metainfo.get("palette")
    if palette is not None and len(palette) < len(classes):
        palette = None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    count = len(dataset) if args.num <= 0 else min(args.num, len(dataset))
    for idx in range(count):
        if args.pipeline:
            img, instances = sample_to_drawable(dataset[idx])
            name = f"{idx:06d}.jpg"
        else:
            info = dataset.get_data_info(idx)
            img, instances = imread(info["img_path"]), info["instances"]
            name = f"{idx:06d}_{osp.splitext(osp.basename(info['img_path']))[0]}.jpg"
        imwrite(draw_instances(img, instances, classes, palette, not args.no_masks), out / name)
    return count
