"""Colour augmentations: SSD's PhotoMetricDistortion and YOLOX's HSV jitter. Geometry is
untouched, so no annotation key changes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detdatasets.io import bgr2hsv, hsv2bgr
from detdatasets.transforms.base import BaseTransform, check_image


def _check_bgr(img: np.ndarray, owner: str) -> None:
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{owner} works on (H, W, 3) BGR images, got shape {img.shape}")


class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation, hue and channel order, each applied with
    probability 1/2, on a float32 copy of the image.

    Order: brightness (+delta), contrast (*alpha) either here or last (50/50), then in
    HSV (OpenCV float ranges: H in [0, 360), S in [0, 1]) saturation (*factor) and hue
    (+delta, wrapped), back to BGR, and a random permutation of the channels. Values are
    not clipped to [0, 255], as in MMDetection.

    Required Keys: img (H, W, 3) BGR
    Modified Keys: img (float32)

    Args:
        brightness_delta: delta drawn from [-d, d].
        contrast_range, saturation_range: factor ranges (low, high).
        hue_delta: delta in degrees drawn from [-d, d].
    """

    def __init__(self, brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18):
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def _draw(self) -> dict:
        """Every random value of one call, drawn in MMDetection's order; None marks a
        distortion that is not applied."""
        contrast_first, *applied = (np.random.randint(2) for _ in range(6))
        values = dict(
            brightness=np.random.uniform(-self.brightness_delta, self.brightness_delta),
            contrast=np.random.uniform(*self.contrast_range),
            saturation=np.random.uniform(*self.saturation_range),
            hue=np.random.uniform(-self.hue_delta, self.hue_delta),
            swap=np.random.permutation(3))
        draw = {name: value if used else None for (name, value), used in zip(values.items(), applied)}
        draw["contrast_first"] = bool(contrast_first)
        return draw

    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        _check_bgr(img, type(self).__name__)
        draw = self._draw()
        img = img.astype(np.float32)
        if draw["brightness"] is not None:
            img += draw["brightness"]
        if draw["contrast"] is not None and draw["contrast_first"]:
            img *= draw["contrast"]
        img = bgr2hsv(img)
        if draw["saturation"] is not None:
            img[..., 1] *= draw["saturation"]
            if draw["saturation"] > 1:
                img[..., 1] = img[..., 1].clip(0, 1)
        if draw["hue"] is not None:
            hue = img[..., 0] + draw["hue"]
            hue[hue > 360] -= 360
            hue[hue < 0] += 360
            img[..., 0] = hue
        img = hsv2bgr(img)
        if draw["contrast"] is not None and not draw["contrast_first"]:
            img *= draw["contrast"]
        if draw["swap"] is not None:
            img = img[..., draw["swap"]]
        results["img"] = img
        return results


class YOLOXHSVRandomAug(BaseTransform):
    """YOLOX's HSV jitter of a uint8 BGR image: each of hue, saturation and value is, with
    probability 1/2, shifted by an integer in (-delta, delta) (hue wraps at 180, the
    others are clipped to [0, 255]).

    Required Keys: img (H, W, 3) uint8 BGR
    Modified Keys: img (in place)
    """

    def __init__(self, hue_delta: int = 5, saturation_delta: int = 30, value_delta: int = 30):
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def _hsv_gains(self) -> np.ndarray:
        gains = np.random.uniform(-1, 1, 3) * [self.hue_delta, self.saturation_delta,
                                               self.value_delta]
        gains *= np.random.randint(0, 2, 3)
        return gains.astype(np.int16)

    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        _check_bgr(img, type(self).__name__)
        gains = self._hsv_gains()
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1:] = np.clip(hsv[..., 1:] + gains[1:], 0, 255)
        cv2.cvtColor(hsv.astype(img.dtype), cv2.COLOR_HSV2BGR, dst=img)
        results["img"] = img
        return results
