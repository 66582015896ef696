"""PixelData: dense per-pixel fields (semantic maps, panoptic maps, heatmaps) of one image.

Behaves like MMEngine's class of the same name: each data field is a (C, H, W) tensor or
ndarray and all fields share (H, W), so ``pixel_data[y0:y1, x0:x1]`` crops every field.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base_data_element import BaseDataElement


class PixelData(BaseDataElement):
    """Data fields of shape (C, H, W) with a common (H, W); (H, W) values become (1, H, W).

    Examples:
        >>> seg = PixelData(sem_seg=torch.zeros(20, 30, dtype=torch.long))
        >>> seg.sem_seg.shape, seg.shape, seg[2:10, 5:7].shape
        (torch.Size([1, 20, 30]), (20, 30), (8, 2))
    """

    def _validate_data_field(self, name: str, value: Any) -> Any:
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise TypeError(
                f"PixelData field {name!r} must be a torch.Tensor or np.ndarray, "
                f"but got {type(value).__name__}"
            )
        if value.ndim not in (2, 3):
            raise ValueError(
                f"PixelData field {name!r} must have shape (C, H, W) or (H, W), "
                f"but got shape {tuple(value.shape)}"
            )
        if value.ndim == 2:
            value = value[None]
        for other in self.keys():
            if other != name:
                expected = tuple(getattr(self, other).shape[-2:])
                if tuple(value.shape[-2:]) != expected:
                    raise ValueError(
                        f"PixelData field {name!r} has (H, W) = {tuple(value.shape[-2:])}, but "
                        f"field {other!r} has (H, W) = {expected}; all fields must share it"
                    )
                break
        return value

    @property
    def shape(self) -> tuple[int, int] | None:
        """(H, W) shared by every field, or None while there is no field."""
        for value in self.values():
            return tuple(value.shape[-2:])
        return None

    def __getitem__(self, item: tuple[int | slice, int | slice]) -> PixelData:
        """Crop every field: ``item`` is a (rows, cols) pair of slices or ints."""
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(
                "PixelData is indexed by a (rows, cols) pair such as data[0:10, 5:20], "
                f"but got {item!r}"
            )
        rows, cols = (slice(i, (i + 1) or None) if isinstance(i, int) else i for i in item)
        cropped = type(self)(metainfo=self.metainfo)
        for name, value in self.items():
            cropped.set_field(value[:, rows, cols], name)
        return cropped
