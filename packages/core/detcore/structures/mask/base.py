"""BaseInstanceMasks: the interface BitmapMasks and PolygonMasks share (MMDetection 3.x names).

Coordinates are continuous pixels: pixel (row i, column j) covers [j, j + 1) x [i, i + 1),
so a box [x1, y1, x2, y2] with exclusive x2/y2 encloses a bitmap exactly and polygons
rasterise (pycocotools) onto the same grid.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T", bound="BaseInstanceMasks")

HORIZONTAL_BOX_TYPES = ("hbox", "hbb")
FLIP_DIRECTIONS = ("horizontal", "vertical", "diagonal")


class BaseInstanceMasks(metaclass=ABCMeta):
    """N instance masks on an image of ``height`` x ``width`` pixels.

    Subclasses keep their data in ``.masks`` (an (N, H, W) array for bitmaps, a list per
    instance of flat polygons for polygons) and return new objects from every operation.
    """

    masks: Any
    height: int
    width: int

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator:
        return iter(self.masks)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_masks={len(self)}, height={self.height}, "
            f"width={self.width})"
        )

    @abstractmethod
    def __getitem__(self: T, index: Any) -> T:
        """Select instances by int, slice, list, or bool/integer array or tensor."""

    @abstractmethod
    def rescale(self: T, scale: float | tuple[int, int], interpolation: str = "nearest") -> T:
        """Resize keeping the aspect ratio; ``scale`` as in mmcv.imrescale (factor or edge bounds)."""

    @abstractmethod
    def resize(self: T, out_shape: tuple[int, int], interpolation: str = "nearest") -> T:
        """Resize to ``out_shape`` (h, w)."""

    @abstractmethod
    def flip(self: T, flip_direction: str = "horizontal") -> T:
        """Mirror along 'horizontal', 'vertical' or 'diagonal' (both) direction."""

    @abstractmethod
    def pad(self: T, out_shape: tuple[int, int], pad_val: int = 0) -> T:
        """Pad at the bottom and right to ``out_shape`` (h, w)."""

    @abstractmethod
    def crop(self: T, bbox: np.ndarray) -> T:
        """Cut out the (4,) xyxy ``bbox`` (rounded to whole pixels, clipped to the image)."""

    @abstractmethod
    def crop_and_resize(
        self: T,
        bboxes: np.ndarray | torch.Tensor,
        out_shape: tuple[int, int],
        inds: np.ndarray | torch.Tensor,
        device: str | torch.device = "cpu",
        interpolation: str = "bilinear",
        binarize: bool = True,
    ) -> T:
        """Mask targets: instance ``inds[k]`` cropped to ``bboxes[k]`` (K, 4) and resized to out_shape."""

    @abstractmethod
    def expand(self: T, expanded_h: int, expanded_w: int, top: int, left: int) -> T:
        """Place the masks at (top, left) on a larger empty canvas (the Expand transform)."""

    @abstractmethod
    def translate(
        self: T,
        out_shape: tuple[int, int],
        offset: float,
        direction: str = "horizontal",
        border_value: float = 0,
        interpolation: str = "bilinear",
    ) -> T:
        """Shift right ('horizontal') or down ('vertical') by ``offset`` pixels."""

    @abstractmethod
    def shear(
        self: T,
        out_shape: tuple[int, int],
        magnitude: float,
        direction: str = "horizontal",
        border_value: float = 0,
        interpolation: str = "bilinear",
    ) -> T:
        """Shear: horizontal x' = x + magnitude * y, vertical y' = y + magnitude * x."""

    @abstractmethod
    def rotate(
        self: T,
        out_shape: tuple[int, int],
        angle: float,
        center: tuple[float, float] | None = None,
        scale: float = 1.0,
        border_value: float = 0,
        interpolation: str = "bilinear",
    ) -> T:
        """Rotate by ``angle`` degrees about ``center`` (x, y), default ((w-1)/2, (h-1)/2).

        Positive angles turn clockwise on screen, as mmcv.imrotate (and so MMDetection) do.
        """

    @property
    @abstractmethod
    def areas(self) -> np.ndarray:
        """(N,) area of each instance in pixels."""

    @abstractmethod
    def to_ndarray(self) -> np.ndarray:
        """(N, H, W) bitmap array."""

    @abstractmethod
    def to_tensor(self, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
        """(N, H, W) bitmap tensor of ``dtype`` on ``device``."""

    @abstractmethod
    def _enclosing_boxes(self) -> torch.Tensor:
        """(N, 4) float32 xyxy boxes enclosing each instance; zeros for empty instances."""

    @classmethod
    @abstractmethod
    def _concatenate(cls: type[T], masks: Sequence[T]) -> T:
        """Join already validated, same-sized mask objects."""

    def get_bboxes(self, dst_type: str = "hbox") -> torch.Tensor:
        """(N, 4) float32 xyxy boxes enclosing each instance; (0, 0, 0, 0) for an empty one.

        Bitmap boxes use exclusive x2/y2 (a one-pixel mask at column 3 spans x 3..4, as
        MMDetection's BitmapMasks); polygon boxes are the bounds of the vertices. Only
        horizontal boxes ('hbox', alias 'hbb') are produced here; the box structures wrap them.
        """
        if dst_type not in HORIZONTAL_BOX_TYPES:
            raise ValueError(
                f"get_bboxes supports dst_type in {HORIZONTAL_BOX_TYPES}, but got {dst_type!r}"
            )
        return self._enclosing_boxes()

    @classmethod
    def cat(cls: type[T], masks: Sequence[T]) -> T:
        """Concatenate same-sized mask objects of this class into one."""
        masks = list(masks)
        if not masks:
            raise ValueError(f"{cls.__name__}.cat needs at least one {cls.__name__}")
        for position, item in enumerate(masks):
            if not isinstance(item, cls):
                raise TypeError(
                    f"{cls.__name__}.cat: item {position} is a {type(item).__name__}, "
                    f"not a {cls.__name__}"
                )
        sizes = sorted({(item.height, item.width) for item in masks})
        if len(sizes) > 1:
            raise ValueError(f"{cls.__name__}.cat needs masks of one (height, width), got {sizes}")
        return cls._concatenate(masks)


def instance_indices(index: Any, num_instances: int, owner: str) -> slice | np.ndarray:
    """A slice, or a 1-D int64 array of positions (negative ones count from the end).

    Accepts int, slice, list, and bool or integer arrays/tensors; a bool index must
    have one entry per instance.
    """
    if isinstance(index, slice):
        return index
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    if isinstance(index, (bool, np.bool_)):
        raise TypeError(f"{owner} cannot be indexed by a single bool; use a bool array")
    array = np.asarray(index)
    if array.dtype == np.bool_:
        if array.shape != (num_instances,):
            raise IndexError(
                f"{owner}: bool index has shape {array.shape}, but there are {num_instances} masks"
            )
        return np.flatnonzero(array)
    if array.size == 0 and array.ndim == 1:
        return np.empty(0, dtype=np.int64)
    if array.ndim > 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{owner} indices must be an int, slice, list of ints, or a 1-D bool/integer "
            f"array or tensor, but got {type(index).__name__}"
            + (f" of dtype {array.dtype} and shape {array.shape}" if array.dtype != object else "")
        )
    array = array.reshape(-1).astype(np.int64)
    outside = (array < -num_instances) | (array >= num_instances)
    if outside.any():
        raise IndexError(
            f"{owner} index {array[outside][0]} is out of range for {num_instances} masks"
        )
    return array


def instance_positions(index: Any, num_instances: int, owner: str) -> np.ndarray:
    """Like :func:`instance_indices`, but a slice also becomes an int64 position array."""
    selection = instance_indices(index, num_instances, owner)
    if isinstance(selection, slice):
        return np.arange(num_instances)[selection]
    return selection


def crop_window(bbox: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """(x1, y1, w, h) in whole pixels for a (4,) xyxy crop box, clipped to the image, w, h >= 1."""
    bbox = np.asarray(bbox, dtype=np.float64)
    if bbox.shape != (4,):
        raise ValueError(f"crop bbox must have shape (4,) as [x1, y1, x2, y2], got {bbox.shape}")
    x1, x2 = np.clip(np.round(bbox[0::2]), 0, width).astype(int)
    y1, y2 = np.clip(np.round(bbox[1::2]), 0, height).astype(int)
    return int(x1), int(y1), max(int(x2 - x1), 1), max(int(y2 - y1), 1)


def check_flip_direction(direction: str) -> None:
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f"flip_direction must be one of {FLIP_DIRECTIONS}, but got {direction!r}")


def default_center(height: int, width: int) -> tuple[float, float]:
    """Rotation centre mmcv.imrotate uses when none is given: the middle of the pixel grid."""
    return (width - 1) * 0.5, (height - 1) * 0.5
