"""Reading and writing image files with OpenCV, with errors that name the file.

Images are numpy arrays: (H, W, 3) uint8 in BGR order unless ``channel_order='rgb'``,
(H, W) for grayscale. EXIF orientation is applied unless the flag says ``*_ignore_orientation``
(OpenCV's behaviour), and :func:`image_size` agrees with that.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

IMREAD_FLAGS = {
    "color": cv2.IMREAD_COLOR,
    "grayscale": cv2.IMREAD_GRAYSCALE,
    "unchanged": cv2.IMREAD_UNCHANGED,
    "color_ignore_orientation": cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_COLOR,
    "grayscale_ignore_orientation": cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_GRAYSCALE,
}

#: EXIF orientations that rotate the picture by 90 degrees (width and height swap).
_EXIF_TRANSPOSED = {5, 6, 7, 8}


def _imread_flag(flag: str | int) -> int:
    if isinstance(flag, int):
        return flag
    try:
        return IMREAD_FLAGS[flag]
    except KeyError:
        raise ValueError(f"flag must be one of {sorted(IMREAD_FLAGS)} or a cv2 flag, "
                         f"got {flag!r}") from None


def _check_channel_order(channel_order: str) -> None:
    if channel_order not in ("bgr", "rgb"):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")


def imfrombytes(content: bytes, flag: str | int = "color", channel_order: str = "bgr",
                source: str | None = None) -> np.ndarray:
    """Decode an encoded image (jpg, png, ...). ``source`` names where the bytes came from
    in the error raised when they are not a decodable image."""
    _check_channel_order(channel_order)
    img = cv2.imdecode(np.frombuffer(content, np.uint8), _imread_flag(flag))
    if img is None:
        where = f"image file {source}" if source else "image bytes"
        raise ValueError(f"cannot decode {where}: not an image, or a corrupt or truncated one "
                         f"({len(content)} bytes)")
    if channel_order == "rgb" and img.ndim == 3 and img.shape[2] >= 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return img


def imread(img_or_path: np.ndarray | str | os.PathLike, flag: str | int = "color",
           channel_order: str = "bgr") -> np.ndarray:
    """Read an image file; an array is returned as it is.

    Raises FileNotFoundError (missing file) or ValueError (undecodable file) naming the path.
    """
    if isinstance(img_or_path, np.ndarray):
        return img_or_path
    if not isinstance(img_or_path, (str, os.PathLike)):
        raise TypeError(f"imread expects an array or a file path, got {type(img_or_path).__name__}")
    path = os.fspath(img_or_path)
    try:
        content = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise FileNotFoundError(f"expected an image file, found a directory: {path}") from None
    return imfrombytes(content, flag, channel_order, source=path)


def imwrite(img: np.ndarray, file_path: str | os.PathLike, params: list[int] | None = None,
            auto_mkdir: bool = True) -> None:
    """Encode ``img`` by the file's extension (``.jpg``, ``.png``, ...) and write it.

    ``params`` are OpenCV's encoder parameters, e.g. ``[cv2.IMWRITE_JPEG_QUALITY, 90]``.
    """
    path = Path(file_path)
    if auto_mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok, encoded = cv2.imencode(path.suffix or ".png", img, params or [])
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of shape {img.shape} and dtype "
                         f"{img.dtype} as '{path.suffix}' for {path}")
    path.write_bytes(encoded.tobytes())


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file from its header, as :func:`imread` would return it
    (EXIF rotations applied). Much faster than decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except UnidentifiedImageError:
        img = imread(path)  # formats Pillow lacks but OpenCV reads
        return img.shape[1], img.shape[0]
    return (height, width) if orientation in _EXIF_TRANSPOSED else (width, height)
