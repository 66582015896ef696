"""Photometric operations against Pillow's ImageEnhance / ImageOps and explicit numpy math."""

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from detdatasets.io import (
    adjust_brightness,
    adjust_color,
    adjust_contrast,
    adjust_sharpness,
    auto_contrast,
    bgr2gray,
    bgr2rgb,
    gray2bgr,
    imdenormalize,
    imequalize,
    iminvert,
    imnormalize,
    imnormalize_,
    posterize,
    rgb2bgr,
    solarize,
)


@pytest.fixture
def bgr():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)


def pil(bgr_img):
    return Image.fromarray(bgr_img[..., ::-1].copy())


def back(pil_img):
    return np.asarray(pil_img)[..., ::-1]


def close(a, b, atol=1):
    return np.abs(a.astype(int) - b.astype(int)).max() <= atol


def test_imnormalize_matches_numpy_and_round_trips(bgr):
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])
    expected = (bgr[..., ::-1].astype(np.float64) - mean) / std
    out = imnormalize(bgr, mean, std, to_rgb=True)
    assert out.dtype == np.float32 and np.allclose(out, expected, atol=1e-4)
    assert np.allclose(imnormalize(bgr, mean, std, to_rgb=False),
                       (bgr - mean) / std, atol=1e-4)
    assert np.allclose(imdenormalize(out, mean, std), bgr, atol=1e-3)
    with pytest.raises(TypeError, match="needs a float image, got uint8"):
        imnormalize_(bgr, mean, std)


@pytest.mark.parametrize("factor", [0.0, 0.4, 1.0, 1.7])
def test_brightness_contrast_color_match_pillow(bgr, factor):
    assert close(adjust_brightness(bgr, factor), back(ImageEnhance.Brightness(pil(bgr)).enhance(factor)))
    assert close(adjust_contrast(bgr, factor), back(ImageEnhance.Contrast(pil(bgr)).enhance(factor)))
    assert close(adjust_color(bgr, factor), back(ImageEnhance.Color(pil(bgr)).enhance(factor)), atol=2)


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0])
def test_sharpness_matches_pillow_inside_the_border(bgr, factor):
    ours = adjust_sharpness(bgr, factor)
    ref = back(ImageEnhance.Sharpness(pil(bgr)).enhance(factor))
    assert close(ours[1:-1, 1:-1], ref[1:-1, 1:-1])  # Pillow leaves the 1-pixel border as is


def test_equalize_autocontrast_posterize_solarize_invert_match_pillow(bgr):
    assert np.array_equal(imequalize(bgr), back(ImageOps.equalize(pil(bgr))))
    low = (bgr // 2 + 40).astype(np.uint8)  # a narrow range, so stretching changes it
    assert close(auto_contrast(low), back(ImageOps.autocontrast(pil(low))))
    assert close(auto_contrast(low, 10), back(ImageOps.autocontrast(pil(low), cutoff=10)))
    assert np.array_equal(posterize(bgr, 3), back(ImageOps.posterize(pil(bgr), 3)))
    assert np.array_equal(solarize(bgr, 100), back(ImageOps.solarize(pil(bgr), 100)))
    assert np.array_equal(iminvert(bgr), back(ImageOps.invert(pil(bgr))))


def test_colour_conversions_match_pillow(bgr):
    assert np.array_equal(bgr2rgb(bgr), bgr[..., ::-1])
    assert np.array_equal(rgb2bgr(bgr2rgb(bgr)), bgr)
    assert close(bgr2gray(bgr), np.asarray(pil(bgr).convert("L")))
    assert bgr2gray(bgr, keepdim=True).shape == (16, 20, 1)
    gray = bgr2gray(bgr)
    assert np.array_equal(gray2bgr(gray), np.repeat(gray[..., None], 3, axis=2))
