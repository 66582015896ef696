"""Pad: grow the image (and masks, seg map) at the bottom and right to a size or a multiple."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from detdatasets.io import impad
from detdatasets.transforms.base import BaseTransform, check_image

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


class Pad(BaseTransform):
    """Pad to ``size`` (w, h), to the next multiple of ``size_divisor``, or to a square.

    Boxes do not move (padding is added at the bottom and right).

    Required Keys: img, gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_masks, gt_seg_map
    Added Keys: pad_shape (the padded image's full shape), pad_fixed_size, pad_size_divisor

    Args:
        size: fixed (w, h) to pad to.
        size_divisor: pad each side up to a multiple of it (after ``pad_to_square``).
        pad_to_square: pad to a square of the longer side.
        pad_val: a number for the image, or a dict with 'img' (default 0), 'seg' (255)
            and 'masks' (0) values; None means dict(img=0, seg=255).
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.
    """

    def __init__(self, size: Sequence[int] | None = None, size_divisor: int | None = None,
                 pad_to_square: bool = False, pad_val: float | Mapping | None = None,
                 padding_mode: str = "constant"):
        owner = type(self).__name__
        if pad_to_square and size is not None:
            raise ValueError(f"{owner}: pad_to_square=True and size cannot be used together")
        if not pad_to_square and (size is None) == (size_divisor is None):
            raise ValueError(f"{owner}: give exactly one of size and size_divisor (or "
                             f"pad_to_square=True), got size={size!r}, "
                             f"size_divisor={size_divisor!r}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{owner}: padding_mode must be one of {PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if pad_val is None:
            pad_val = dict(img=0, seg=255)
        elif isinstance(pad_val, numbers.Number):
            pad_val = dict(img=pad_val, seg=255)
        elif not isinstance(pad_val, Mapping):
            raise TypeError(f"{owner}: pad_val must be a number or a dict, got {pad_val!r}")
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_to_square = pad_to_square
        self.pad_val = dict(pad_val)
        self.padding_mode = padding_mode

    def _padded_shape(self, height: int, width: int) -> tuple[int, int]:
        if self.pad_to_square:
            height = width = max(height, width)
        if self.size_divisor is not None:
            divisor = self.size_divisor
            return int(np.ceil(height / divisor)) * divisor, int(np.ceil(width / divisor)) * divisor
        if self.size is not None:
            return self.size[1], self.size[0]
        return height, width

    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        shape = self._padded_shape(*img.shape[:2])
        img = impad(img, shape=shape, pad_val=self.pad_val.get("img", 0),
                    padding_mode=self.padding_mode)
        results["img"] = img
        results["pad_shape"] = img.shape
        results["pad_fixed_size"] = self.size
        results["pad_size_divisor"] = self.size_divisor
        results["img_shape"] = img.shape[:2]
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = impad(results["gt_seg_map"], shape=shape,
                                          pad_val=self.pad_val.get("seg", 255),
                                          padding_mode=self.padding_mode)
        if results.get("gt_masks") is not None:
            results["gt_masks"] = results["gt_masks"].pad(shape,
                                                          pad_val=self.pad_val.get("masks", 0))
        return results
