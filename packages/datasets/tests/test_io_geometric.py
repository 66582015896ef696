"""Geometric image operations against numpy / hand-computed results and mmcv's documented rules."""

import numpy as np
import pytest

from detdatasets.io import (
    imcrop,
    imflip,
    imflip_,
    impad,
    impad_to_multiple,
    imrescale,
    imresize,
    imresize_like,
    imresize_to_multiple,
    imrotate,
    imshear,
    imtranslate,
    rescale_size,
)


@pytest.fixture
def img():
    return np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


def test_rescale_size_fits_long_and_short_edges_hand_computed():
    # (w, h) = (400, 300) into (1333, 800): factor min(1333/400, 800/300) = 8/3
    assert rescale_size((400, 300), (1333, 800), return_scale=True) == ((1067, 800), 800 / 300)
    assert rescale_size((300, 400), (800, 1333)) == (800, 1067)  # the pair's order is irrelevant
    assert rescale_size((10, 20), 0.5) == (5, 10)
    with pytest.raises(ValueError, match="scale must be positive"):
        rescale_size((10, 20), -1)


def test_imrescale_and_imresize_shapes_and_scales(img):
    out, scale = imrescale(img, 2.0, return_scale=True)
    assert out.shape == (8, 12, 3) and scale == 2.0
    out, w_scale, h_scale = imresize(img, (3, 8), return_scale=True)
    assert out.shape == (8, 3, 3) and (w_scale, h_scale) == (0.5, 2.0)
    assert imresize_like(img, np.zeros((2, 3))).shape == (2, 3, 3)
    assert imresize_to_multiple(img, 4, size=(7, 5)).shape == (8, 8, 3)
    assert imresize_to_multiple(img, 5, scale_factor=2).shape == (10, 15, 3)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        imresize(img, (3, 3), interpolation="cubic")


def test_nearest_upscale_by_two_repeats_pixels(img):
    expected = img.repeat(2, axis=0).repeat(2, axis=1)
    assert np.array_equal(imresize(img, (12, 8), interpolation="nearest"), expected)


@pytest.mark.parametrize("direction,axis", [("horizontal", 1), ("vertical", 0),
                                            ("diagonal", (0, 1))])
def test_flips_match_numpy(img, direction, axis):
    expected = np.flip(img, axis=axis)
    assert np.array_equal(imflip(img, direction), expected)
    assert np.array_equal(imflip_(img.copy(), direction), expected)


def test_flip_rejects_unknown_direction(img):
    with pytest.raises(ValueError, match="direction must be one of"):
        imflip(img, "sideways")


@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("edge", "edge"),
                                          ("reflect", "reflect"), ("symmetric", "symmetric")])
def test_impad_modes_match_numpy_pad(img, mode, np_mode):
    ours = impad(img, padding=(1, 2, 3, 1), padding_mode=mode)  # left, top, right, bottom
    ref = np.pad(img, ((2, 1), (1, 3), (0, 0)), mode=np_mode)
    assert np.array_equal(ours, ref)


def test_impad_shape_values_and_multiple(img):
    out = impad(img, shape=(5, 8), pad_val=(1, 2, 3))
    assert out.shape == (5, 8, 3)
    assert np.array_equal(out[:4, :6], img)
    assert (out[4, :] == [1, 2, 3]).all() and (out[:, 6:] == [1, 2, 3]).all()
    gray = impad(img[..., 0], padding=1)
    assert gray.shape == (6, 8) and np.array_equal(gray[1:-1, 1:-1], img[..., 0])
    assert impad_to_multiple(img, 4).shape == (4, 8, 3)
    with pytest.raises(ValueError, match="pad_val has 2 values but the image has 3 channels"):
        impad(img, padding=1, pad_val=(0, 0))
    with pytest.raises(ValueError, match="smaller than the image"):
        impad(img, shape=(2, 2))
    with pytest.raises(ValueError, match="exactly one of shape and padding"):
        impad(img)


def test_imcrop_slices_xyxy_exclusive_and_pads(img):
    assert np.array_equal(imcrop(img, np.array([1, 0, 4, 3])), img[0:3, 1:4])
    patches = imcrop(img, np.array([[0, 0, 2, 2], [4, 2, 8, 6]]))
    assert np.array_equal(patches[0], img[:2, :2]) and np.array_equal(patches[1], img[2:4, 4:6])
    padded = imcrop(img, np.array([4, 2, 8, 6]), pad_fill=7)
    assert padded.shape == (4, 4, 3)
    assert np.array_equal(padded[:2, :2], img[2:4, 4:6]) and (padded[2:, :] == 7).all()


def test_imrotate_90_with_auto_bound_equals_rot90():
    img = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5)
    out = imrotate(img, 90, auto_bound=True, interpolation="nearest")
    assert np.array_equal(out, np.rot90(img, k=-1))  # positive angle = clockwise
    assert np.array_equal(imrotate(img, 180, interpolation="nearest"), img[::-1, ::-1])
    with pytest.raises(ValueError, match="auto_bound works only with the default center"):
        imrotate(img, 10, center=(1, 1), auto_bound=True)


def test_imtranslate_and_imshear_hand_computed():
    img = np.arange(1, 13, dtype=np.uint8).reshape(3, 4)
    right = imtranslate(img, 1, "horizontal", border_value=0, interpolation="nearest")
    assert np.array_equal(right, np.array([[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]]))
    down = imtranslate(img, 2, "vertical", border_value=9, interpolation="nearest")
    assert np.array_equal(down, np.array([[9] * 4, [9] * 4, [1, 2, 3, 4]]))
    sheared = imshear(img, 1.0, "horizontal", interpolation="nearest")  # row r moves right by r
    assert np.array_equal(sheared, np.array([[1, 2, 3, 4], [0, 5, 6, 7], [0, 0, 9, 10]]))
    with pytest.raises(ValueError, match="direction must be 'horizontal' or 'vertical'"):
        imshear(img, 0.1, "diagonal")
