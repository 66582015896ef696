"""BaseBoxes: the tensor-backed box container every box type (horizontal, rotated...) derives from.

Behaves like MMDetection 3.x's class of the same name. A box object wraps ``.tensor`` of
shape (..., box_dim); the last dimension holds one box's coordinates and is never indexed,
split or reduced by the tensor-like methods below. A subclass sets ``box_dim``, implements
the geometry (areas, flips, projections, overlaps...) and registers itself with
:func:`detcore.structures.bbox.register_box_type` so conversions can find it.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

T = TypeVar("T", bound="BaseBoxes")


class BaseBoxes(metaclass=ABCMeta):
    """Boxes stored as ``tensor`` of shape (..., box_dim).

    Args:
        data: boxes as a Tensor, ndarray or nested sequence of shape (..., box_dim).
            An empty input becomes (0, box_dim); integer input becomes float32.
        dtype, device: optional conversion of the stored tensor.
        clone: copy the data (default) instead of sharing memory with ``data``.
    """

    #: Number of coordinates of one box; set by each subclass.
    box_dim: int = 0

    def __init__(
        self,
        data: Tensor | np.ndarray | Sequence,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        clone: bool = True,
    ) -> None:
        if not isinstance(data, (Tensor, np.ndarray, Sequence)):
            raise TypeError(
                f"{type(self).__name__} data must be a Tensor, ndarray or sequence, "
                f"but got {type(data).__name__}"
            )
        data = torch.as_tensor(data)
        if dtype is None and not data.is_floating_point():
            dtype = torch.float32
        if dtype is not None or device is not None:
            data = data.to(dtype=dtype, device=device)
        if clone:
            data = data.clone()
        if data.numel() == 0 and (data.dim() < 2 or data.size(-1) != self.box_dim):
            data = data.reshape(0, self.box_dim)
        if data.dim() < 2 or data.size(-1) != self.box_dim:
            raise ValueError(
                f"{type(self).__name__} needs data of shape (..., {self.box_dim}), "
                f"but got shape {tuple(data.shape)}"
            )
        self.tensor = data

    # ------------------------------------------------------------------ construction
    def convert_to(self, dst_type: str | type) -> BaseBoxes:
        """These boxes as another registered box type (e.g. ``'hbox'``, ``'rbox'``)."""
        from .box_type import convert_box_type

        return convert_box_type(self, dst_type=dst_type)

    def empty_boxes(self: T, dtype: torch.dtype | None = None, device: Any = None) -> T:
        """Boxes of this type with shape (0, box_dim)."""
        return type(self)(
            self.tensor.new_zeros(0, self.box_dim, dtype=dtype, device=device), clone=False
        )

    def fake_boxes(
        self: T,
        sizes: tuple[int, ...],
        fill: float = 0,
        dtype: torch.dtype | None = None,
        device: Any = None,
    ) -> T:
        """Boxes of this type of shape ``sizes`` filled with ``fill`` (placeholders)."""
        return type(self)(
            self.tensor.new_full(sizes, fill, dtype=dtype, device=device), clone=False
        )

    def _wrap(self: T, tensor: Tensor) -> T:
        return type(self)(tensor, clone=False)

    # ------------------------------------------------------------------ indexing
    def _check_index(self, index: Any) -> Any:
        """Refuse indices that would reach into the coordinate dimension."""
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        if isinstance(index, Tensor) and index.dtype == torch.bool:
            if index.dim() >= self.tensor.dim():
                raise IndexError(
                    f"a boolean index of {type(self).__name__} must have fewer than "
                    f"{self.tensor.dim()} dimensions, but got shape {tuple(index.shape)}"
                )
        elif isinstance(index, tuple):
            if len(index) >= self.tensor.dim():
                raise IndexError(
                    f"{type(self).__name__} with {self.tensor.dim()} dimensions accepts at most "
                    f"{self.tensor.dim() - 1} indices (the coordinate dimension cannot be indexed), "
                    f"but got {len(index)}"
                )
            if any(i is Ellipsis for i in index[:-1]):
                raise IndexError(f"an Ellipsis in an index of {type(self).__name__} must come last")
        return index

    def __getitem__(self: T, index: Any) -> T:
        boxes = self.tensor[self._check_index(index)]
        if boxes.dim() == 1:
            boxes = boxes.reshape(1, -1)
        return self._wrap(boxes)

    def __setitem__(self, index: Any, values: BaseBoxes) -> None:
        if type(values) is not type(self):
            raise TypeError(
                f"values assigned into {type(self).__name__} must be {type(self).__name__}, "
                f"but got {type(values).__name__}"
            )
        self.tensor[self._check_index(index)] = values.tensor

    def __len__(self) -> int:
        return self.tensor.size(0)

    def __deepcopy__(self: T, memo: dict) -> T:
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        copied.tensor = self.tensor.clone()
        return copied

    def __repr__(self) -> str:
        return f"{type(self).__name__}(\n{self.tensor})"

    # ------------------------------------------------------------------ tensor-like API
    def new_tensor(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.tensor.new_tensor(*args, **kwargs)

    def new_full(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.tensor.new_full(*args, **kwargs)

    def new_empty(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.tensor.new_empty(*args, **kwargs)

    def new_ones(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.tensor.new_ones(*args, **kwargs)

    def new_zeros(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.tensor.new_zeros(*args, **kwargs)

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.tensor.size() if dim is None else self.tensor.size(dim)

    def dim(self) -> int:
        return self.tensor.dim()

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    @property
    def dtype(self) -> torch.dtype:
        return self.tensor.dtype

    @property
    def shape(self) -> torch.Size:
        return self.tensor.shape

    def numel(self) -> int:
        return self.tensor.numel()

    def numpy(self) -> np.ndarray:
        """The coordinates as an ndarray (detached, on the CPU)."""
        return self.tensor.detach().cpu().numpy()

    def to(self: T, *args: Any, **kwargs: Any) -> T:
        return self._wrap(self.tensor.to(*args, **kwargs))

    def cpu(self: T) -> T:
        return self._wrap(self.tensor.cpu())

    def cuda(self: T, *args: Any, **kwargs: Any) -> T:
        return self._wrap(self.tensor.cuda(*args, **kwargs))

    def clone(self: T) -> T:
        return type(self)(self.tensor)

    def detach(self: T) -> T:
        return self._wrap(self.tensor.detach())

    def view(self: T, *shape: int) -> T:
        return self._wrap(self.tensor.view(*shape))

    def reshape(self: T, *shape: int) -> T:
        return self._wrap(self.tensor.reshape(*shape))

    def expand(self: T, *sizes: int) -> T:
        return self._wrap(self.tensor.expand(*sizes))

    def repeat(self: T, *sizes: int) -> T:
        return self._wrap(self.tensor.repeat(*sizes))

    def _check_batch_dim(self, dim: int, operation: str, ndim: int | None = None) -> None:
        ndim = self.tensor.dim() if ndim is None else ndim
        if dim % ndim == ndim - 1:
            raise ValueError(
                f"{type(self).__name__}.{operation} cannot act on dimension {dim}: the last "
                f"dimension holds the {self.box_dim} coordinates of each box"
            )

    def transpose(self: T, dim0: int, dim1: int) -> T:
        self._check_batch_dim(dim0, "transpose")
        self._check_batch_dim(dim1, "transpose")
        return self._wrap(self.tensor.transpose(dim0, dim1))

    def permute(self: T, *dims: int) -> T:
        if dims[-1] % self.tensor.dim() != self.tensor.dim() - 1:
            raise ValueError(
                f"{type(self).__name__}.permute must keep the coordinate dimension last, got {dims}"
            )
        return self._wrap(self.tensor.permute(*dims))

    def split(self: T, split_size_or_sections: int | Sequence[int], dim: int = 0) -> list[T]:
        self._check_batch_dim(dim, "split")
        return [self._wrap(part) for part in self.tensor.split(split_size_or_sections, dim=dim)]

    def chunk(self: T, chunks: int, dim: int = 0) -> list[T]:
        self._check_batch_dim(dim, "chunk")
        return [self._wrap(part) for part in self.tensor.chunk(chunks, dim=dim)]

    def unbind(self: T, dim: int = 0) -> list[T]:
        self._check_batch_dim(dim, "unbind")
        return [self._wrap(part) for part in self.tensor.unbind(dim=dim)]

    def flatten(self: T, start_dim: int = 0, end_dim: int = -2) -> T:
        self._check_batch_dim(end_dim, "flatten")
        return self._wrap(self.tensor.flatten(start_dim, end_dim))

    def squeeze(self: T, dim: int | None = None) -> T:
        return self._wrap(self.tensor.squeeze() if dim is None else self.tensor.squeeze(dim))

    def unsqueeze(self: T, dim: int) -> T:
        self._check_batch_dim(dim, "unsqueeze", ndim=self.tensor.dim() + 1)
        return self._wrap(self.tensor.unsqueeze(dim))

    @classmethod
    def _check_box_list(cls, box_list: Sequence[BaseBoxes], operation: str) -> None:
        if not isinstance(box_list, Sequence) or len(box_list) == 0:
            raise ValueError(f"{cls.__name__}.{operation} needs a non-empty list of boxes")
        for position, boxes in enumerate(box_list):
            if not isinstance(boxes, cls):
                raise TypeError(
                    f"{cls.__name__}.{operation}: element {position} is a {type(boxes).__name__}, "
                    f"not a {cls.__name__}"
                )

    @classmethod
    def cat(cls: type[T], box_list: Sequence[T], dim: int = 0) -> T:
        """Concatenate boxes of this type along a batch dimension."""
        cls._check_box_list(box_list, "cat")
        box_list[0]._check_batch_dim(dim, "cat")
        return cls(torch.cat([boxes.tensor for boxes in box_list], dim=dim), clone=False)

    @classmethod
    def stack(cls: type[T], box_list: Sequence[T], dim: int = 0) -> T:
        """Stack boxes of this type along a new batch dimension."""
        cls._check_box_list(box_list, "stack")
        box_list[0]._check_batch_dim(dim, "stack", ndim=box_list[0].dim() + 1)
        return cls(torch.stack([boxes.tensor for boxes in box_list], dim=dim), clone=False)

    # ------------------------------------------------------------------ geometry (per box type)
    @property
    @abstractmethod
    def centers(self) -> Tensor:
        """(..., 2) box centres."""

    @property
    @abstractmethod
    def areas(self) -> Tensor:
        """(...,) box areas."""

    @property
    @abstractmethod
    def widths(self) -> Tensor:
        """(...,) box widths."""

    @property
    @abstractmethod
    def heights(self) -> Tensor:
        """(...,) box heights."""

    @abstractmethod
    def flip_(self, img_shape: tuple[int, int], direction: str = "horizontal") -> None:
        """Flip in place inside an image of ``img_shape`` (h, w): 'horizontal', 'vertical' or 'diagonal'."""

    @abstractmethod
    def translate_(self, distances: Sequence[float]) -> None:
        """Shift in place by ``distances`` (dx, dy)."""

    @abstractmethod
    def clip_(self, img_shape: tuple[int, int]) -> None:
        """Clip in place to an image of ``img_shape`` (h, w)."""

    @abstractmethod
    def rotate_(self, center: tuple[float, float], angle: float) -> None:
        """Rotate in place about ``center`` (x, y) by ``angle`` degrees, clockwise positive."""

    @abstractmethod
    def project_(self, homography_matrix: Tensor | np.ndarray) -> None:
        """Transform in place by a 3x3 homography."""

    @abstractmethod
    def rescale_(self, scale_factor: tuple[float, float]) -> None:
        """Scale coordinates in place by ``scale_factor`` (w_scale, h_scale), as when resizing the image."""

    @abstractmethod
    def resize_(self, scale_factor: tuple[float, float]) -> None:
        """Scale box sizes in place about their centres by ``scale_factor`` (w_scale, h_scale)."""

    @abstractmethod
    def is_inside(
        self, img_shape: tuple[int, int], all_inside: bool = False, allowed_border: int = 0
    ) -> Tensor:
        """(...,) BoolTensor: which boxes lie inside (or overlap) an image of ``img_shape`` (h, w)."""

    @abstractmethod
    def find_inside_points(self, points: Tensor, is_aligned: bool = False) -> Tensor:
        """(M, N) BoolTensor: which of M points (M, 2) lie inside which of the N boxes."""

    @staticmethod
    @abstractmethod
    def overlaps(
        boxes1: BaseBoxes,
        boxes2: BaseBoxes,
        mode: str = "iou",
        is_aligned: bool = False,
        eps: float = 1e-6,
    ) -> Tensor:
        """Pairwise (or aligned) overlaps between two box sets."""

    @staticmethod
    @abstractmethod
    def from_instance_masks(masks: Any) -> BaseBoxes:
        """Boxes enclosing each instance mask."""
