"""What every transform shares: the call protocol and the per-instance keys of a results dict.

A transform maps one sample's results dict to the updated dict, or to None to ask the
dataset for another sample (MMDetection 3.x / MMCV 2.x protocol). The keys follow
MMDetection: ``img`` (H, W[, C]) array, ``img_shape`` / ``ori_shape`` (h, w), ``scale``
(w, h), ``scale_factor`` (w_scale, h_scale), ``flip``, ``flip_direction``, ``pad_shape``,
``homography_matrix`` (3, 3) float32 from original to current pixel coordinates, and the
per-instance keys in :data:`INSTANCE_KEYS`, which always have one entry per object in the
same order.
"""

from __future__ import annotations

import inspect
from abc import ABCMeta, abstractmethod

import numpy as np

#: Keys holding one entry per object; selecting objects selects from all of them.
INSTANCE_KEYS = ("gt_bboxes", "gt_bboxes_labels", "gt_ignore_flags", "gt_masks",
                 "gt_instances_ids")


class BaseTransform(metaclass=ABCMeta):
    """A callable results-dict transform; subclasses implement :meth:`transform`.

    ``repr`` shows the constructor arguments that the instance keeps under their own names.
    """

    def __call__(self, results: dict) -> dict | None:
        return self.transform(results)

    @abstractmethod
    def transform(self, results: dict) -> dict | None:
        """Update ``results`` (in place is allowed) and return it, or None to drop the sample."""

    def __repr__(self) -> str:
        parameters = inspect.signature(type(self).__init__).parameters
        shown = [f"{name}={getattr(self, name)!r}" for name in parameters
                 if name != "self" and hasattr(self, name)]
        return f"{type(self).__name__}({', '.join(shown)})"


def keep_instances(results: dict, keep: np.ndarray) -> None:
    """Keep the objects selected by ``keep`` ((N,) bool mask or int positions) in every
    per-instance key present in ``results``."""
    keep = np.asarray(keep)
    if keep.dtype == bool:
        keep = np.flatnonzero(keep)
    for key in INSTANCE_KEYS:
        if results.get(key) is not None:
            results[key] = results[key][keep]


def concat_instances(parts: list[dict], owner: str) -> dict:
    """The per-instance keys of the ``parts`` results dicts, joined in order.

    A key is joined when the first part has it; every part must have it then.
    """
    joined = {}
    for key in INSTANCE_KEYS:
        values = [part.get(key) for part in parts]
        if values[0] is None:
            continue
        missing = [i for i, value in enumerate(values) if value is None]
        if missing:
            raise KeyError(f"{owner}: results[{key!r}] is set in the first image but not in "
                           f"mixed image(s) {missing}; load the same annotations for all")
        first = values[0]
        joined[key] = np.concatenate(values) if isinstance(first, np.ndarray) else type(first).cat(values)
    return joined


def mixed_results(results: dict, count: int, owner: str) -> list:
    """The ``count`` other samples a mixing transform was given in ``results['mix_results']``."""
    mixed = results.get("mix_results")
    if mixed is None or len(mixed) != count:
        raise ValueError(f"{owner} needs results['mix_results'] with {count} other image(s) "
                         f"(use it inside MultiImageMixDataset), got "
                         f"{'none' if mixed is None else len(mixed)}")
    return mixed


def refuse_seg_map(results: dict, owner: str) -> None:
    """Mixing transforms move objects, not pixels' classes: refuse a semantic seg map rather
    than leave it out of step with the image."""
    if results.get("gt_seg_map") is not None:
        raise ValueError(f"{owner} does not transform results['gt_seg_map']; load annotations "
                         f"with with_seg=False for pipelines that use it")


def record_homography(results: dict, matrix: np.ndarray) -> None:
    """Compose ``matrix`` (3, 3), which maps the previous pixel coordinates to the new ones,
    onto ``results['homography_matrix']`` (original -> current)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    previous = results.get("homography_matrix")
    results["homography_matrix"] = matrix if previous is None else matrix @ previous


def translation_matrix(dx: float, dy: float) -> np.ndarray:
    """(3, 3) float32 homography of a shift by (dx, dy) pixels."""
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float32)


def boxes_from_masks(masks, like):
    """Boxes of ``like``'s kind (box object or (N, 4) ndarray) enclosing each instance mask."""
    from detcore.structures import HorizontalBoxes

    boxes = HorizontalBoxes(masks.get_bboxes(), clone=False)
    if isinstance(like, np.ndarray):
        return boxes.numpy()
    return boxes if isinstance(like, HorizontalBoxes) else boxes.convert_to(type(like))


def check_image(results: dict, owner: str) -> np.ndarray:
    """``results['img']``, with an error naming ``owner`` when no image was loaded."""
    img = results.get("img")
    if img is None:
        raise KeyError(f"{owner} needs results['img']; put LoadImageFromFile (or another "
                       f"loader) before it in the pipeline")
    return img
