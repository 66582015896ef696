"""Colour-space conversions between OpenCV's BGR and the other orders and spaces."""

from __future__ import annotations

import cv2
import numpy as np


def bgr2gray(img: np.ndarray, keepdim: bool = False) -> np.ndarray:
    """(H, W, 3) BGR -> (H, W) luma, or (H, W, 1) with ``keepdim``."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return gray[..., None] if keepdim else gray


def rgb2gray(img: np.ndarray, keepdim: bool = False) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) luma, or (H, W, 1) with ``keepdim``."""
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return gray[..., None] if keepdim else gray


def gray2bgr(img: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 1) -> (H, W, 3) with the value repeated."""
    return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)


gray2rgb = gray2bgr


def _converter(name: str, code: int, doc: str):
    def convert(img: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(img, code)

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = doc
    return convert


bgr2rgb = _converter("bgr2rgb", cv2.COLOR_BGR2RGB, "Swap BGR -> RGB.")
rgb2bgr = _converter("rgb2bgr", cv2.COLOR_RGB2BGR, "Swap RGB -> BGR.")
bgr2hsv = _converter("bgr2hsv", cv2.COLOR_BGR2HSV, "BGR -> HSV (OpenCV ranges: H in [0, 180) for uint8).")
hsv2bgr = _converter("hsv2bgr", cv2.COLOR_HSV2BGR, "HSV -> BGR (OpenCV ranges).")
bgr2hls = _converter("bgr2hls", cv2.COLOR_BGR2HLS, "BGR -> HLS (OpenCV ranges).")
hls2bgr = _converter("hls2bgr", cv2.COLOR_HLS2BGR, "HLS -> BGR (OpenCV ranges).")
