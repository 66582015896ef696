"""Photometric image operations: normalisation and the PIL-style enhancements that
augmentation policies (AutoAugment, RandAugment) are defined with.

Inputs are (H, W, 3) BGR arrays unless a docstring says otherwise. The enhancement
functions follow Pillow's ``ImageEnhance`` / ``ImageOps`` definitions, as mmcv's do: a
factor of 1 returns the image, 0 returns the "degenerate" image (black, grey mean, grey,
blurred), and values in between or beyond blend linearly.
"""

from __future__ import annotations

import cv2
import numpy as np

from detdatasets.io.colorspace import bgr2gray, gray2bgr


def imnormalize(img: np.ndarray, mean, std, to_rgb: bool = True) -> np.ndarray:
    """(img - mean) / std as float32, after BGR -> RGB when ``to_rgb``; ``img`` is not changed."""
    return imnormalize_(img.copy().astype(np.float32), mean, std, to_rgb)


def imnormalize_(img: np.ndarray, mean, std, to_rgb: bool = True) -> np.ndarray:
    """In-place :func:`imnormalize` of a float32 image (uint8 input is not allowed)."""
    if img.dtype == np.uint8:
        raise TypeError("imnormalize_ works in place and needs a float image, got uint8; "
                        "use imnormalize or convert first")
    mean = np.float64(np.asarray(mean).reshape(1, -1))
    stdinv = 1 / np.float64(np.asarray(std).reshape(1, -1))
    if to_rgb:
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, img)
    cv2.subtract(img, mean, img)
    cv2.multiply(img, stdinv, img)
    return img


def imdenormalize(img: np.ndarray, mean, std, to_bgr: bool = True) -> np.ndarray:
    """Undo :func:`imnormalize`: img * std + mean (float32), then RGB -> BGR when ``to_bgr``."""
    if img.dtype == np.uint8:
        raise TypeError("imdenormalize expects a normalised float image, got uint8")
    mean = np.asarray(mean, dtype=np.float64).reshape(1, -1)
    std = np.asarray(std, dtype=np.float64).reshape(1, -1)
    img = cv2.add(cv2.multiply(img.astype(np.float32), std), mean)
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if to_bgr else img


def _blend(img: np.ndarray, degenerate: np.ndarray, factor: float) -> np.ndarray:
    """factor * img + (1 - factor) * degenerate, clipped to [0, 255], in img's dtype."""
    blended = cv2.addWeighted(img.astype(np.float32), factor, degenerate.astype(np.float32),
                              1 - factor, 0)
    return np.clip(blended, 0, 255).astype(img.dtype)


def adjust_brightness(img: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Blend with black (Pillow's ImageEnhance.Brightness)."""
    return _blend(img, np.zeros_like(img), factor)


def adjust_contrast(img: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Blend with the mean grey level (Pillow's ImageEnhance.Contrast)."""
    gray = bgr2gray(img)
    mean = round(float(gray.sum()) / gray.size)
    return _blend(img, np.full_like(img, mean), factor)


def adjust_color(img: np.ndarray, alpha: float = 1.0, beta: float | None = None,
                 gamma: float = 0.0) -> np.ndarray:
    """alpha * img + beta * gray(img) + gamma; beta defaults to 1 - alpha, which is
    Pillow's ImageEnhance.Color (saturation) with factor alpha."""
    beta = 1 - alpha if beta is None else beta
    colored = cv2.addWeighted(img, alpha, gray2bgr(bgr2gray(img)), beta, gamma)  # rounds uint8
    return np.clip(colored, 0, 255).astype(img.dtype)


def adjust_sharpness(img: np.ndarray, factor: float = 1.0,
                     kernel: np.ndarray | None = None) -> np.ndarray:
    """Blend with a smoothed copy (Pillow's ImageEnhance.Sharpness and its SMOOTH kernel)."""
    if kernel is None:
        kernel = np.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-d array, got shape {kernel.shape}")
    return _blend(img, cv2.filter2D(img, -1, kernel), factor)


def iminvert(img: np.ndarray) -> np.ndarray:
    """255 - img."""
    return np.full_like(img, 255) - img


def solarize(img: np.ndarray, thr: float = 128) -> np.ndarray:
    """Invert the pixels at or above ``thr`` (Pillow's ImageOps.solarize)."""
    return np.where(img < thr, img, 255 - img)


def posterize(img: np.ndarray, bits: int) -> np.ndarray:
    """Keep the ``bits`` most significant bits of each uint8 value."""
    if not 0 <= bits <= 8:
        raise ValueError(f"bits must be in [0, 8], got {bits}")
    shift = 8 - bits
    return np.left_shift(np.right_shift(img, shift), shift)


def _apply_channel_luts(img: np.ndarray, luts: list[np.ndarray]) -> np.ndarray:
    channels = [lut[img[..., c]] for c, lut in enumerate(luts)]
    return np.stack(channels, axis=-1).astype(img.dtype)


def _histograms(img: np.ndarray) -> list[np.ndarray]:
    return [np.bincount(img[..., c].ravel(), minlength=256)[:256] for c in range(img.shape[2])]


def imequalize(img: np.ndarray) -> np.ndarray:
    """Histogram equalisation of each channel (Pillow's ImageOps.equalize)."""
    luts = []
    for histo in _histograms(img):
        nonzero = histo[histo > 0]
        step = (nonzero.sum() - nonzero[-1]) // 255
        if not step:
            luts.append(np.arange(256))
            continue
        lut = (np.cumsum(histo) + step // 2) // step
        luts.append(np.minimum(np.concatenate([[0], lut[:-1]]), 255))
    return _apply_channel_luts(img, luts)


def auto_contrast(img: np.ndarray, cutoff: float | tuple[float, float] = 0) -> np.ndarray:
    """Stretch each channel to [0, 255] after cutting ``cutoff`` percent of the darkest
    and brightest pixels (Pillow's ImageOps.autocontrast)."""
    low_cut, high_cut = (cutoff, cutoff) if np.isscalar(cutoff) else cutoff
    luts = []
    for histo in _histograms(img):
        cumulative = np.cumsum(histo)
        total = cumulative[-1]
        cut_low, cut_high = total * low_cut // 100, total - total * high_cut // 100
        cumulative = np.clip(cumulative, cut_low, cut_high) - cut_low
        kept = np.nonzero(np.diff(cumulative, prepend=0))[0]
        if len(kept) == 0 or kept[0] >= kept[-1]:
            luts.append(np.arange(256))
            continue
        low, high = kept[0], kept[-1]
        scale = 255.0 / (high - low)
        luts.append(np.clip(np.arange(256) * scale - low * scale, 0, 255))
    return _apply_channel_luts(img, luts)
