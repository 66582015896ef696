"""Resizing transforms: to a scale or by a factor, to a fixed shape, and at random scales."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.io import imrescale, imresize
from detdatasets.transforms.base import BaseTransform, check_image, record_homography


def _pair(value, name: str, owner: str) -> tuple | None:
    """None, a number n -> (n, n), or a 2-sequence -> tuple; anything else is an error."""
    if value is None:
        return None
    if isinstance(value, numbers.Number):
        return (value, value)
    if isinstance(value, Sequence) and len(value) == 2:
        return tuple(value)
    raise TypeError(f"{owner}: {name} must be a number or a pair, got {value!r}")


class Resize(BaseTransform):
    """Resize the image and everything drawn on it.

    ``scale`` (w, h) is the target size; with ``keep_ratio`` it bounds the long and the
    short edge instead (e.g. (1333, 800): long edge <= 1333, short edge <= 800). Without
    ``scale``, ``scale_factor`` (a number or (w, h) factors) sets the target size.

    Required Keys: img, gt_bboxes (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_masks, gt_seg_map
    Added Keys: scale, scale_factor (w_scale, h_scale), keep_ratio, homography_matrix

    Args:
        scale: target (w, h), or an int for a square.
        scale_factor: used when ``scale`` is not given.
        keep_ratio: keep the aspect ratio (see above).
        clip_object_border: clip boxes to the resized image.
        backend: only 'cv2'.
        interpolation: 'nearest', 'bilinear', 'bicubic', 'area' or 'lanczos' (masks and
            segmentation maps always use 'nearest').
    """

    def __init__(self, scale: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None, keep_ratio: bool = False,
                 clip_object_border: bool = True, backend: str = "cv2",
                 interpolation: str = "bilinear"):
        owner = type(self).__name__
        if scale is None and scale_factor is None:
            raise ValueError(f"{owner}: give scale or scale_factor")
        if backend != "cv2":
            raise ValueError(f"{owner}: backend must be 'cv2', got {backend!r}")
        self.scale = _pair(scale, "scale", owner)
        self.scale_factor = _pair(scale_factor, "scale_factor", owner)
        self.keep_ratio = keep_ratio
        self.clip_object_border = clip_object_border
        self.backend = backend
        self.interpolation = interpolation

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        h, w = img.shape[:2]
        if self.scale:
            results["scale"] = tuple(self.scale)
        else:
            results["scale"] = (int(w * self.scale_factor[0] + 0.5),
                                int(h * self.scale_factor[1] + 0.5))
        if self.keep_ratio:
            img = imrescale(img, results["scale"], interpolation=self.interpolation)
            # the factors actually applied, after rounding the new sides
            scale_factor = (img.shape[1] / w, img.shape[0] / h)
        else:
            img, w_scale, h_scale = imresize(img, results["scale"], return_scale=True,
                                             interpolation=self.interpolation)
            scale_factor = (w_scale, h_scale)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["scale_factor"] = scale_factor
        results["keep_ratio"] = self.keep_ratio
        self._resize_annotations(results)
        return results

    def _resize_annotations(self, results: dict) -> None:
        """Bring boxes, masks and the seg map to the new ``img_shape`` by ``scale_factor``."""
        img_shape = results["img_shape"]
        boxes = results.get("gt_bboxes")
        if boxes is not None:
            boxes.rescale_(results["scale_factor"])
            if self.clip_object_border:
                boxes.clip_(img_shape)
        if results.get("gt_masks") is not None:
            results["gt_masks"] = results["gt_masks"].resize(img_shape)
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = imresize(results["gt_seg_map"], img_shape[::-1],
                                             interpolation="nearest")
        w_scale, h_scale = results["scale_factor"]
        record_homography(results, np.diag([w_scale, h_scale, 1.0]))


class FixShapeResize(Resize):
    """Resize to exactly ``width`` x ``height``; with ``keep_ratio`` resize to fit inside
    and pad the rest (bottom and right) with ``pad_val``.

    Required Keys: img, gt_bboxes (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_masks, gt_seg_map
    Added Keys: scale, scale_factor, keep_ratio, homography_matrix, and with keep_ratio
    Pad's pad_shape, pad_fixed_size, pad_size_divisor

    ``pad_val`` is Pad's (None: dict(img=0, seg=255)). With keep_ratio, ``scale_factor``
    is the nominal factor min(width / w, height / h) that the boxes are scaled by, as in
    MMDetection (the image's sides are rounded to whole pixels).
    """

    def __init__(self, width: int, height: int, pad_val: float | Mapping | None = None,
                 keep_ratio: bool = False, clip_object_border: bool = True, backend: str = "cv2",
                 interpolation: str = "bilinear"):
        if width is None or height is None:
            raise ValueError(f"{type(self).__name__}: width and height are required")
        super().__init__(scale=(width, height), keep_ratio=keep_ratio,
                         clip_object_border=clip_object_border, backend=backend,
                         interpolation=interpolation)
        self.width = width
        self.height = height
        self.pad_val = pad_val
        if keep_ratio:
            from detdatasets.transforms.pad import Pad

            self.pad_transform = Pad(size=(width, height), pad_val=pad_val)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        if not self.keep_ratio:
            return super().transform(results)
        img = check_image(results, type(self).__name__)
        h, w = img.shape[:2]
        factor = min(self.width / w, self.height / h)
        results["scale"] = (int(w * factor + 0.5), int(h * factor + 0.5))
        img = imrescale(img, results["scale"], interpolation=self.interpolation)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["scale_factor"] = (factor, factor)
        results["keep_ratio"] = True
        self._resize_annotations(results)
        return self.pad_transform(results)


def _build_resize(resize_type, resize_kwargs: dict, placeholder_scale) -> BaseTransform:
    """The resize transform whose ``scale`` attribute the random resizes set per call."""
    from detcore.registry import TRANSFORMS

    return TRANSFORMS.build({"type": resize_type, "scale": placeholder_scale, **resize_kwargs})


def _as_scale(value, owner: str) -> tuple:
    """A (w, h) scale from an int, a tuple or a list."""
    if isinstance(value, numbers.Integral):
        return (int(value), int(value))
    if isinstance(value, Sequence) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{owner}: a scale must be an int or a (w, h) pair of ints, got {value!r}")


class RandomResize(BaseTransform):
    """Resize to a random scale drawn per sample.

    Two ways to draw, as in MMCV:

    * ``scale=(w, h)`` and ``ratio_range=(lo, hi)``: (int(w * r), int(h * r)) with r
      uniform in [lo, hi).
    * ``scale=[(w1, h1), (w2, h2)]``: each edge uniform over the integers between the
      two given values (inclusive).

    The resize itself is ``resize_type`` built with ``resize_kwargs`` (e.g.
    ``keep_ratio=True``); its keys are this transform's keys.

    Required Keys: those of the resize type. Modified Keys: those of the resize type.
    Added Keys: scale, scale_factor, keep_ratio, homography_matrix
    """

    def __init__(self, scale: Sequence, ratio_range: Sequence[float] | None = None,
                 resize_type: str | type = "Resize", **resize_kwargs):
        owner = type(self).__name__
        if ratio_range is not None:
            self.scale = _as_scale(scale, owner)
            if len(ratio_range) != 2 or ratio_range[0] > ratio_range[1]:
                raise ValueError(f"{owner}: ratio_range must be (min, max) with min <= max, got "
                                 f"{ratio_range!r}")
            self.ratio_range = tuple(ratio_range)
            placeholder = self.scale
        else:
            if not (isinstance(scale, Sequence) and len(scale) == 2
                    and all(isinstance(s, Sequence) for s in scale)):
                raise ValueError(f"{owner}: without ratio_range, scale must be two (w, h) "
                                 f"bounds such as [(1333, 640), (1333, 800)], got {scale!r}")
            self.scale = [_as_scale(s, owner) for s in scale]
            self.ratio_range = None
            placeholder = self.scale[0]
        self.resize_type = resize_type
        self.resize_kwargs = resize_kwargs
        self.resize = _build_resize(resize_type, resize_kwargs, placeholder)

    def _random_scale(self) -> tuple[int, int]:
        if self.ratio_range is not None:
            low, high = self.ratio_range
            ratio = np.random.random_sample() * (high - low) + low
            return int(self.scale[0] * ratio), int(self.scale[1] * ratio)
        (w1, h1), (w2, h2) = self.scale
        width = np.random.randint(min(w1, w2), max(w1, w2) + 1)
        height = np.random.randint(min(h1, h2), max(h1, h2) + 1)
        return int(width), int(height)

    def transform(self, results: dict) -> dict:
        results["scale"] = self.resize.scale = self._random_scale()
        return self.resize(results)


class RandomChoiceResize(BaseTransform):
    """Resize to one of ``scales``, chosen uniformly per sample.

    Required Keys / Modified Keys: those of ``resize_type`` (built with ``resize_kwargs``).
    Added Keys: scale, scale_factor, keep_ratio, homography_matrix, scale_idx (the
    position of the chosen scale)
    """

    def __init__(self, scales: Sequence, resize_type: str | type = "Resize", **resize_kwargs):
        owner = type(self).__name__
        if isinstance(scales, numbers.Integral) or (
                isinstance(scales, tuple) and all(isinstance(s, numbers.Integral) for s in scales)):
            scales = [scales]
        if not isinstance(scales, Sequence) or not scales:
            raise ValueError(f"{owner}: scales must be a non-empty list of (w, h) scales, got "
                             f"{scales!r}")
        self.scales = [_as_scale(s, owner) for s in scales]
        self.resize_type = resize_type
        self.resize_kwargs = resize_kwargs
        self.resize = _build_resize(resize_type, resize_kwargs, self.scales[0])

    def transform(self, results: dict) -> dict:
        scale_idx = int(np.random.randint(len(self.scales)))
        self.resize.scale = self.scales[scale_idx]
        results = self.resize(results)
        results["scale_idx"] = scale_idx
        return results
