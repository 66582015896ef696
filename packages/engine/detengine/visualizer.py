"""DetLocalVisualizer: draws boxes, masks, class names and scores on images.

    visualizer = dict(type='DetLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                      name='visualizer')

Images are RGB uint8 arrays (H, W, 3). Predictions come as a DetDataSample (its
``pred_instances``/``gt_instances``) or a dict with ``bboxes`` (N, 4) xyxy pixels,
``labels`` (N,), ``scores`` (N,) and optionally ``masks`` (N, H, W). Colours come from
``dataset_meta['palette']`` when the dataset has one, else a fixed palette that gives
every class its own hue. ``vis_backends`` and ``name`` are accepted for MMDetection
config compatibility; images are written as files under ``save_dir``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def class_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """``num_classes`` well-separated RGB colours (golden-ratio hue steps), the same every run."""
    colours = []
    for index in range(num_classes):
        hue = (index * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def instances_as_arrays(instances: Any) -> dict[str, np.ndarray]:
    """bboxes (N, 4), labels (N,), scores (N,) and masks (N, H, W) of instances as NumPy arrays."""
    out: dict[str, np.ndarray] = {}
    for key in ("bboxes", "labels", "scores", "masks"):
        value = instances.get(key) if hasattr(instances, "get") else getattr(instances, key, None)
        if value is None:
            continue
        if hasattr(value, "to_ndarray"):  # BitmapMasks, PolygonMasks
            value = value.to_ndarray()
        elif hasattr(value, "tensor"):  # HorizontalBoxes
            value = value.tensor
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        out[key] = np.asarray(value)
    return out


class DetLocalVisualizer:
    def __init__(self, name: str = "visualizer", save_dir: str | None = None,
                 vis_backends: Sequence | None = None, line_width: int = 2, alpha: float = 0.5,
                 text_scale: float = 0.5):
        self.name = name
        self.save_dir = Path(save_dir) if save_dir else None
        self.vis_backends = vis_backends
        self.line_width = line_width
        self.alpha = alpha
        self.text_scale = text_scale
        self.dataset_meta: dict = {}

    def _classes_and_palette(self, labels: np.ndarray) -> tuple[Sequence[str] | None, list]:
        classes = self.dataset_meta.get("classes")
        palette = self.dataset_meta.get("palette")
        count = max(len(classes) if classes else 0, int(labels.max()) + 1 if labels.size else 0)
        if not palette or len(palette) < count:
            palette = class_palette(count)
        return classes, [tuple(int(c) for c in colour) for colour in palette]

    def draw_instances(self, image: np.ndarray, instances: Any, score_thr: float = 0.0) -> np.ndarray:
        """A copy of ``image`` (H, W, 3) RGB with the instances above ``score_thr`` drawn."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"draw_instances expects an (H, W, 3) RGB image, got shape {image.shape}")
        canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
        arrays = instances_as_arrays(instances)
        labels = arrays.get("labels", np.zeros(0, dtype=np.int64)).astype(np.int64)
        keep = np.ones(len(labels), dtype=bool)
        if "scores" in arrays:
            keep &= arrays["scores"] >= score_thr
        classes, palette = self._classes_and_palette(labels)
        if "masks" in arrays and len(arrays["masks"]):
            canvas = self._blend_masks(canvas, arrays["masks"][keep].astype(bool), labels[keep], palette)
        boxes = arrays.get("bboxes", np.zeros((0, 4)))[keep] if "bboxes" in arrays else np.zeros((0, 4))
        scores = arrays["scores"][keep] if "scores" in arrays else None
        for index, (box, label) in enumerate(zip(boxes, labels[keep])):
            colour = palette[label]
            x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, self.line_width)
            name = classes[label] if classes and label < len(classes) else f"class {label}"
            text = name if scores is None else f"{name} {scores[index]:.2f}"
            self._label(canvas, text, (x1, y1), colour)
        return canvas

    def _blend_masks(self, canvas: np.ndarray, masks: np.ndarray, labels: np.ndarray,
                     palette: list) -> np.ndarray:
        """Colour each mask's pixels with its class colour at ``alpha`` (later masks on top)."""
        if masks.shape[1:] != canvas.shape[:2]:
            raise ValueError(f"masks are {masks.shape[1:]} but the image is {canvas.shape[:2]}")
        colours = np.array(palette, dtype=np.float32)[labels]  # (N, 3)
        owner = np.where(masks.any(0), masks.shape[0] - 1 - np.argmax(masks[::-1], axis=0), -1)
        covered = owner >= 0
        blended = canvas.astype(np.float32)
        blended[covered] = (1 - self.alpha) * blended[covered] + self.alpha * colours[owner[covered]]
        return blended.round().astype(np.uint8)

    def _label(self, canvas: np.ndarray, text: str, corner: tuple[int, int], colour) -> None:
        font = cv2.FONT_HERSHEY_SIMPLEX
        (width, height), baseline = cv2.getTextSize(text, font, self.text_scale, 1)
        x, y = corner[0], max(corner[1], height + baseline)
        cv2.rectangle(canvas, (x, y - height - baseline), (x + width, y), colour, -1)
        cv2.putText(canvas, text, (x, y - baseline), font, self.text_scale, (255, 255, 255), 1,
                    cv2.LINE_AA)

    def add_datasample(self, name: str, image: np.ndarray, data_sample: Any = None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       out_file: str | None = None, pred_score_thr: float = 0.3,
                       step: int = 0, wait_time: float = 0) -> np.ndarray:
        """Draw ground truth (left) and predictions (right) of a sample; save and return it."""
        panels = []
        sample = data_sample if data_sample is not None else {}
        get = sample.get if isinstance(sample, Mapping) else (lambda k: getattr(sample, k, None))
        if draw_gt and get("gt_instances") is not None:
            panels.append(self.draw_instances(image, get("gt_instances")))
        if draw_pred and get("pred_instances") is not None:
            panels.append(self.draw_instances(image, get("pred_instances"), pred_score_thr))
        drawn = np.concatenate(panels, axis=1) if panels else np.ascontiguousarray(image)
        if show:
            cv2.imshow(name, drawn[..., ::-1])
            cv2.waitKey(int(wait_time * 1000))
        if out_file is None and self.save_dir is not None:
            out_file = str(self.save_dir / "vis_image" / f"{name}_{step}.png")
        if out_file is not None:
            save_image(drawn, out_file)
        return drawn


def save_image(image: np.ndarray, path: str | Path) -> None:
    """Write an RGB image (any format cv2 knows from the suffix); folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1])):
        raise OSError(f"could not write image '{path}'")


def read_image(path: str | Path) -> np.ndarray:
    """An image file as an RGB uint8 array; a clear error names the file if it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image '{path}' (missing, or not an image)")
    return image[..., ::-1].copy()
