"""Geometric image operations on (H, W) or (H, W, C) arrays, with mmcv's names and rules.

Sizes are given as (w, h) where mmcv does (``imresize``, ``rescale_size``) and shapes as
(h, w) (``impad``). Boxes are xyxy in pixels with no +1: ``imcrop`` takes ``[x1, y1, x2, y2)``
(mmcv's own imcrop includes x2; this one follows the rest of this project).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import cv2
import numpy as np

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}

BORDER_MODES = {
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT,
    "wrap": cv2.BORDER_WRAP,
    "reflect_101": cv2.BORDER_REFLECT_101,
    "transparent": cv2.BORDER_TRANSPARENT,
    "isolated": cv2.BORDER_ISOLATED,
}

#: impad's padding modes (numpy's names) mapped to OpenCV borders.
PADDING_MODES = {
    "constant": cv2.BORDER_CONSTANT,
    "edge": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT_101,
    "symmetric": cv2.BORDER_REFLECT,
}

FLIP_DIRECTIONS = ("horizontal", "vertical", "diagonal")


def _lookup(table: dict, key: str, argument: str) -> int:
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"{argument} must be one of {list(table)}, got {key!r}") from None


def _channels(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else img.shape[2]


def _per_channel(value, img: np.ndarray, argument: str) -> tuple:
    """A border or fill value as a tuple with one entry per channel (what cv2 expects)."""
    channels = _channels(img)
    if isinstance(value, numbers.Number):
        return (value,) * channels
    value = tuple(value)
    if len(value) != channels:
        raise ValueError(f"{argument} has {len(value)} values but the image has {channels} "
                         f"channels")
    return value


# ---------------------------------------------------------------------------- resizing
def imresize(img: np.ndarray, size: tuple[int, int], return_scale: bool = False,
             interpolation: str = "bilinear", out: np.ndarray | None = None):
    """Resize to ``size`` = (w, h). With ``return_scale`` also return (w_scale, h_scale)."""
    h, w = img.shape[:2]
    resized = cv2.resize(img, tuple(int(s) for s in size), dst=out,
                         interpolation=_lookup(INTERPOLATIONS, interpolation, "interpolation"))
    if not return_scale:
        return resized
    return resized, size[0] / w, size[1] / h


def imresize_like(img: np.ndarray, dst_img: np.ndarray, return_scale: bool = False,
                  interpolation: str = "bilinear"):
    """Resize ``img`` to the height and width of ``dst_img``."""
    h, w = dst_img.shape[:2]
    return imresize(img, (w, h), return_scale, interpolation)


def _scale_size(size: tuple[int, int], scale: float | tuple[float, float]) -> tuple[int, int]:
    if isinstance(scale, numbers.Number):
        scale = (scale, scale)
    w, h = size
    return int(w * float(scale[0]) + 0.5), int(h * float(scale[1]) + 0.5)


def rescale_size(old_size: tuple[int, int], scale: float | tuple[int, int],
                 return_scale: bool = False):
    """New (w, h) after scaling (w, h) ``old_size`` by a factor, or to fit inside ``scale``.

    ``scale`` is a factor (> 0) or an edge pair such as (1333, 800): the image is scaled
    as much as possible while its long edge stays <= max(scale) and its short edge
    <= min(scale); the aspect ratio is kept.
    """
    w, h = old_size
    if isinstance(scale, numbers.Number):
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scale_factor = float(scale)
    elif isinstance(scale, Sequence) and len(scale) == 2:
        max_long_edge, max_short_edge = max(scale), min(scale)
        scale_factor = min(max_long_edge / max(h, w), max_short_edge / min(h, w))
    else:
        raise TypeError(f"scale must be a number or a (long, short) edge pair, got {scale!r}")
    new_size = _scale_size((w, h), scale_factor)
    return (new_size, scale_factor) if return_scale else new_size


def imrescale(img: np.ndarray, scale: float | tuple[int, int], return_scale: bool = False,
              interpolation: str = "bilinear"):
    """Resize keeping the aspect ratio (see :func:`rescale_size` for ``scale``)."""
    h, w = img.shape[:2]
    new_size, scale_factor = rescale_size((w, h), scale, return_scale=True)
    rescaled = imresize(img, new_size, interpolation=interpolation)
    return (rescaled, scale_factor) if return_scale else rescaled


def imresize_to_multiple(img: np.ndarray, divisor: int | tuple[int, int],
                         size: int | tuple[int, int] | None = None,
                         scale_factor: float | tuple[float, float] | None = None,
                         keep_ratio: bool = False, return_scale: bool = False,
                         interpolation: str = "bilinear"):
    """Resize to ``size`` (w, h) or by ``scale_factor``, then round each side up to a
    multiple of ``divisor`` (an int or a (w, h) pair)."""
    h, w = img.shape[:2]
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor")
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        if keep_ratio:
            size = rescale_size((w, h), size)
    else:
        size = _scale_size((w, h), scale_factor)
    divisor = (divisor, divisor) if isinstance(divisor, int) else tuple(divisor)
    size = tuple(int(np.ceil(s / d)) * d for s, d in zip(size, divisor))
    return imresize(img, size, return_scale, interpolation)


# ---------------------------------------------------------------------------- flips
def imflip(img: np.ndarray, direction: str = "horizontal") -> np.ndarray:
    """Flip horizontally (mirror left-right), vertically, or diagonally (both)."""
    axes = {"horizontal": 1, "vertical": 0, "diagonal": (0, 1)}
    return np.flip(img, axis=axes[_check_direction(direction)])


def imflip_(img: np.ndarray, direction: str = "horizontal") -> np.ndarray:
    """In-place :func:`imflip`; ``img`` must be contiguous."""
    codes = {"horizontal": 1, "vertical": 0, "diagonal": -1}
    return cv2.flip(img, codes[_check_direction(direction)], img)


def _check_direction(direction: str) -> str:
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f"direction must be one of {FLIP_DIRECTIONS}, got {direction!r}")
    return direction


# ---------------------------------------------------------------------------- padding, cropping
def impad(img: np.ndarray, *, shape: tuple[int, int] | None = None,
          padding: int | tuple[int, ...] | None = None, pad_val: float | Sequence = 0,
          padding_mode: str = "constant") -> np.ndarray:
    """Pad to ``shape`` (h, w) on the bottom and right, or by ``padding``.

    ``padding`` is an int (all sides), (left/right, top/bottom) or (left, top, right,
    bottom). ``padding_mode``: constant, edge, reflect (no edge repeat) or symmetric.
    A scalar ``pad_val`` fills every channel (mmcv's fills only the first).
    """
    if (shape is None) == (padding is None):
        raise ValueError("give exactly one of shape and padding")
    if shape is not None:
        height, width = img.shape[:2]
        if shape[0] < height or shape[1] < width:
            raise ValueError(f"pad shape {tuple(shape)} is smaller than the image "
                             f"({height}, {width})")
        padding = (0, 0, shape[1] - width, shape[0] - height)
    if isinstance(padding, numbers.Integral):
        padding = (padding,) * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    elif len(padding) != 4:
        raise ValueError(f"padding must be an int or a tuple of 2 or 4 ints, got {padding!r}")
    left, top, right, bottom = (int(p) for p in padding)
    mode = _lookup(PADDING_MODES, padding_mode, "padding_mode")
    value = _per_channel(pad_val, img, "pad_val")
    padded = cv2.copyMakeBorder(img, top, bottom, left, right, mode, value=value)
    return padded.reshape(padded.shape[:2] + img.shape[2:])  # cv2 drops a single channel axis


def impad_to_multiple(img: np.ndarray, divisor: int, pad_val: float | Sequence = 0) -> np.ndarray:
    """Pad on the bottom and right so that both sides are multiples of ``divisor``."""
    pad_h = int(np.ceil(img.shape[0] / divisor)) * divisor
    pad_w = int(np.ceil(img.shape[1] / divisor)) * divisor
    return impad(img, shape=(pad_h, pad_w), pad_val=pad_val)


def imcrop(img: np.ndarray, bboxes: np.ndarray, scale: float = 1.0,
           pad_fill: float | Sequence | None = None) -> np.ndarray | list[np.ndarray]:
    """Crop (4,) or (N, 4) xyxy ``bboxes`` (x2, y2 exclusive), each scaled about its centre.

    Without ``pad_fill`` a crop is clipped to the image; with it, the crop keeps the
    box's full size and the part outside the image is filled. Returns one patch for a
    (4,) box, a list for (N, 4).
    """
    bboxes = np.asarray(bboxes, dtype=np.float64)
    single = bboxes.ndim == 1
    boxes = bboxes.reshape(-1, 4)
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * scale / 2
    scaled = np.concatenate([centers - half, centers + half], axis=1).round().astype(np.int64)
    h, w = img.shape[:2]
    clipped = np.clip(scaled, 0, [w, h, w, h])
    fill = None if pad_fill is None else np.array(_per_channel(pad_fill, img, "pad_fill"),
                                                  dtype=img.dtype)
    patches = []
    for (x1, y1, x2, y2), (sx1, sy1, sx2, sy2) in zip(clipped, scaled):
        inside = img[y1:y2, x1:x2]
        if fill is None:
            patches.append(inside.copy())
            continue
        patch = np.empty((sy2 - sy1, sx2 - sx1) + img.shape[2:], dtype=img.dtype)
        patch[...] = fill.reshape(img.shape[2:]) if img.ndim == 3 else fill[0]
        patch[y1 - sy1:y2 - sy1, x1 - sx1:x2 - sx1] = inside
        patches.append(patch)
    return patches[0] if single else patches


# ---------------------------------------------------------------------------- affine warps
def _warp(img: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border_value,
          interpolation: str, border_mode: str = "constant") -> np.ndarray:
    warped = cv2.warpAffine(
        img, matrix, size, flags=_lookup(INTERPOLATIONS, interpolation, "interpolation"),
        borderMode=_lookup(BORDER_MODES, border_mode, "border_mode"),
        # cv2 takes at most 4 border values; images with more channels use the first ones
        borderValue=_per_channel(border_value, img, "border_value")[:4])
    return warped.reshape(warped.shape[:2] + img.shape[2:])


def imrotate(img: np.ndarray, angle: float, center: tuple[float, float] | None = None,
             scale: float = 1.0, border_value: float | Sequence = 0,
             interpolation: str = "bilinear", auto_bound: bool = False,
             border_mode: str = "constant") -> np.ndarray:
    """Rotate by ``angle`` degrees, clockwise positive (mmcv's convention), about
    ``center`` (x, y) (default: the image centre). ``auto_bound`` enlarges the output
    so that nothing is cut off (only with the default centre)."""
    if center is not None and auto_bound:
        raise ValueError("auto_bound works only with the default center")
    h, w = img.shape[:2]
    if center is None:
        center = ((w - 1) * 0.5, (h - 1) * 0.5)
    matrix = cv2.getRotationMatrix2D(center, -angle, scale)
    if auto_bound:
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        new_w, new_h = h * sin + w * cos, h * cos + w * sin
        matrix[0, 2] += (new_w - w) * 0.5
        matrix[1, 2] += (new_h - h) * 0.5
        w, h = int(np.round(new_w)), int(np.round(new_h))
    return _warp(img, matrix, (w, h), border_value, interpolation, border_mode)


def imshear(img: np.ndarray, magnitude: float, direction: str = "horizontal",
            border_value: float | Sequence = 0, interpolation: str = "bilinear") -> np.ndarray:
    """Shear: x' = x + magnitude * y (horizontal) or y' = y + magnitude * x (vertical)."""
    rows = {"horizontal": [[1, magnitude, 0], [0, 1, 0]],
            "vertical": [[1, 0, 0], [magnitude, 1, 0]]}
    if direction not in rows:
        raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
    h, w = img.shape[:2]
    return _warp(img, np.float32(rows[direction]), (w, h), border_value, interpolation)


def imtranslate(img: np.ndarray, offset: float, direction: str = "horizontal",
                border_value: float | Sequence = 0, interpolation: str = "bilinear") -> np.ndarray:
    """Shift the content by ``offset`` pixels right (horizontal) or down (vertical)."""
    rows = {"horizontal": [[1, 0, offset], [0, 1, 0]],
            "vertical": [[1, 0, 0], [0, 1, offset]]}
    if direction not in rows:
        raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
    h, w = img.shape[:2]
    return _warp(img, np.float32(rows[direction]), (w, h), border_value, interpolation)
