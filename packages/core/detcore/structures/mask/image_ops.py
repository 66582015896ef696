"""OpenCV operations on stacks of (N, H, W) masks, with mmcv's names and size rules.

OpenCV 5 rejects or silently mixes channels when one call carries more than a few
channels (cv2.resize with INTER_CUBIC/INTER_AREA, cv2.warpAffine), so every mask goes
through OpenCV on its own: the result for one mask never depends on how many others
are in the stack.
"""

from __future__ import annotations

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


def interpolation_flag(name: str) -> int:
    """cv2 flag for one of mmcv's interpolation names ('nearest', 'bilinear', ...)."""
    try:
        return INTERPOLATIONS[name]
    except KeyError:
        raise ValueError(
            f"interpolation must be one of {sorted(INTERPOLATIONS)}, but got {name!r}"
        ) from None


def check_shape(out_shape: Sequence[int], argument: str = "out_shape") -> tuple[int, int]:
    """Validate an (h, w) pair of non-negative integers and return it as ints."""
    if len(out_shape) != 2 or any(int(v) != v or v < 0 for v in out_shape):
        raise ValueError(f"{argument} must be (h, w) with non-negative integers, got {out_shape!r}")
    return int(out_shape[0]), int(out_shape[1])


def rescaled_shape(height: int, width: int, scale: float | Sequence[float]) -> tuple[int, int]:
    """(h, w) after mmcv.rescale_size.

    A number multiplies both sides. A pair (e.g. (1333, 800)) bounds the long side by its
    larger value and the short side by its smaller one, keeping the aspect ratio.
    Sides are rounded half up, as mmcv does.
    """
    if isinstance(scale, (int, float)):
        if scale <= 0:
            raise ValueError(f"scale must be positive, but got {scale}")
        factor = float(scale)
    elif isinstance(scale, (tuple, list)) and len(scale) == 2:
        factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    else:
        raise TypeError(f"scale must be a number or a pair of numbers, but got {scale!r}")
    return int(height * factor + 0.5), int(width * factor + 0.5)


def resize_masks(masks: np.ndarray, out_shape: tuple[int, int], interpolation: str) -> np.ndarray:
    """(N, H, W) -> (N, h, w) with cv2.resize."""
    flag = interpolation_flag(interpolation)
    out_h, out_w = out_shape
    out = np.empty((len(masks), out_h, out_w), dtype=masks.dtype)
    for i, mask in enumerate(masks):
        out[i] = cv2.resize(mask, (out_w, out_h), interpolation=flag)
    return out


def warp_masks(
    masks: np.ndarray,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    border_value: float,
    interpolation: str,
) -> np.ndarray:
    """(N, H, W) -> (N, h, w) through the forward 2x3 affine ``matrix`` (cv2.warpAffine).

    Pixels that map from outside the source take ``border_value``.
    """
    flag = interpolation_flag(interpolation)
    out_h, out_w = out_shape
    matrix = np.asarray(matrix, dtype=np.float64)
    out = np.empty((len(masks), out_h, out_w), dtype=masks.dtype)
    for i, mask in enumerate(masks):
        out[i] = cv2.warpAffine(
            mask,
            matrix,
            (out_w, out_h),
            flags=flag,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border_value,
        )
    return out


def rotation_matrix(angle: float, center: tuple[float, float], scale: float) -> np.ndarray:
    """2x3 matrix rotating by ``angle`` degrees clockwise on screen (mmcv.imrotate's sign)."""
    return cv2.getRotationMatrix2D(
        (float(center[0]), float(center[1])), -float(angle), float(scale)
    )


def shear_matrix(magnitude: float, direction: str) -> np.ndarray:
    """2x3 matrix: horizontal x' = x + m*y, vertical y' = y + m*x (mmcv.imshear)."""
    if direction == "horizontal":
        return np.array([[1.0, magnitude, 0.0], [0.0, 1.0, 0.0]])
    if direction == "vertical":
        return np.array([[1.0, 0.0, 0.0], [magnitude, 1.0, 0.0]])
    raise ValueError(f"direction must be 'horizontal' or 'vertical', but got {direction!r}")


def translation_matrix(offset: float, direction: str) -> np.ndarray:
    """2x3 matrix moving right (horizontal) or down (vertical) by ``offset`` pixels."""
    if direction == "horizontal":
        return np.array([[1.0, 0.0, offset], [0.0, 1.0, 0.0]])
    if direction == "vertical":
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, offset]])
    raise ValueError(f"direction must be 'horizontal' or 'vertical', but got {direction!r}")
