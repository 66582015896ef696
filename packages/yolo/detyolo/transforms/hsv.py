"""YOLOv5HSVRandomAug: YOLOv5's multiplicative hue/saturation/value jitter."""

from __future__ import annotations

import cv2
import numpy as np

from detdatasets.transforms.base import BaseTransform, check_image


class YOLOv5HSVRandomAug(BaseTransform):
    """Multiply hue, saturation and value of a uint8 BGR image by random gains.

    Each gain is ``1 + u * delta`` with u uniform in [-1, 1] (one draw of three numbers per
    image, in h, s, v order); hue wraps at 180 (OpenCV's hue range) and saturation and
    value are clipped to [0, 255]. It runs as three 256-entry lookup tables on the
    OpenCV HSV image, so it costs two colour conversions.

    Required Keys: img (H, W, 3) uint8 BGR
    Modified Keys: img

    Args:
        hue_delta, saturation_delta, value_delta: the largest relative change of each.
    """

    def __init__(self, hue_delta: float = 0.015, saturation_delta: float = 0.7,
                 value_delta: float = 0.4):
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def transform(self, results: dict) -> dict:
        owner = type(self).__name__
        img = check_image(results, owner)
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{owner} needs a uint8 (H, W, 3) BGR image, got {img.dtype} "
                             f"{img.shape}; put it before transforms that make the image float")
        gains = np.random.uniform(-1, 1, 3) * [self.hue_delta, self.saturation_delta,
                                               self.value_delta] + 1
        levels = np.arange(256, dtype=np.float64)
        lut = np.stack([(levels * gains[0]) % 180,
                        np.clip(levels * gains[1], 0, 255),
                        np.clip(levels * gains[2], 0, 255)], axis=-1).astype(np.uint8)
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        results["img"] = cv2.cvtColor(cv2.LUT(hsv, lut.reshape(1, 256, 3)), cv2.COLOR_HSV2BGR)
        return results
