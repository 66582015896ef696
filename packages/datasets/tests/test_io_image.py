"""Image file io: OpenCV / Pillow as references, and the error messages."""

import cv2
import numpy as np
import pytest
from PIL import Image

from detdatasets.io import image_size, imfrombytes, imread, imwrite


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)


def test_imwrite_png_then_imread_matches_cv2_and_pillow(tmp_path, image):
    path = tmp_path / "sub" / "a.png"  # auto_mkdir creates sub/
    imwrite(image, path)
    assert np.array_equal(imread(path), cv2.imread(str(path)))
    assert np.array_equal(imread(path), image)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(imread(path, channel_order="rgb"), rgb)
    assert np.array_equal(imread(path, "grayscale"), cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))


def test_imread_returns_arrays_unchanged(image):
    assert imread(image) is image


def test_image_size_matches_decoded_shape_and_applies_exif_rotation(tmp_path):
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (30, 10)).save(plain)
    assert image_size(plain) == (30, 10)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.new("RGB", (30, 10)).save(rotated, exif=exif)
    h, w = imread(rotated).shape[:2]  # OpenCV applies the orientation
    assert (w, h) == (10, 30)
    assert image_size(rotated) == (10, 30)
    assert imread(rotated, "color_ignore_orientation").shape[:2] == (10, 30)


def test_missing_image_error_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nope\.jpg"):
        imread(tmp_path / "nope.jpg")
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nope\.jpg"):
        image_size(tmp_path / "nope.jpg")


def test_corrupt_image_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match=r"cannot decode image file .*bad\.jpg: not an image"):
        imread(bad)
    with pytest.raises(ValueError, match="cannot decode image bytes"):
        imfrombytes(b"\x00\x01")


def test_bad_arguments_are_reported(tmp_path):
    with pytest.raises(ValueError, match="flag must be one of"):
        imfrombytes(b"", flag="colour")
    with pytest.raises(ValueError, match="channel_order must be 'bgr' or 'rgb'"):
        imfrombytes(b"", channel_order="brg")
    with pytest.raises(ValueError, match="cannot encode"):
        imwrite(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.unknownext")
