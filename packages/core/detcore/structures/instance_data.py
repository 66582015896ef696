"""InstanceData: per-instance fields (boxes, labels, scores, masks...) that index together.

Behaves like MMEngine's class of the same name: every data field has one entry per
instance, so ``instances[keep]`` selects the same instances from all fields at once.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import numpy as np
import torch

from .base_data_element import BaseDataElement


class InstanceData(BaseDataElement):
    """Data fields of equal length N, indexed together.

    Fields may be tensors, ndarrays, lists/tuples, or objects with ``__getitem__`` and a
    ``cat`` method (box and mask structures).

    Examples:
        >>> inst = InstanceData(bboxes=torch.rand(4, 4), labels=torch.tensor([0, 3, 1, 3]))
        >>> len(inst[inst.labels == 3]), len(inst[1:]), len(inst[0])
        (2, 3, 1)
    """

    def _validate_data_field(self, name: str, value: Any) -> Any:
        if not isinstance(value, Sized):
            raise TypeError(
                f"InstanceData field {name!r} must have a length (tensor, ndarray, list, boxes, "
                f"masks), but got {type(value).__name__}"
            )
        for other in self.keys():
            if other != name:
                expected = len(getattr(self, other))
                if len(value) != expected:
                    raise ValueError(
                        f"InstanceData field {name!r} has length {len(value)}, but field "
                        f"{other!r} has length {expected}; all fields must have the same length"
                    )
                break
        return value

    __setitem__ = BaseDataElement.__setattr__

    def __len__(self) -> int:
        for name in self.keys():
            return len(getattr(self, name))
        return 0

    def __getitem__(self, item: Any) -> Any:
        """Select instances.

        ``item`` may be a field name (returns that field), an int (a one-instance
        InstanceData), a slice, a 1-D LongTensor/int ndarray/list of indices, or a 1-D
        BoolTensor/bool ndarray mask of length ``len(self)``.
        """
        if isinstance(item, str):
            return getattr(self, item)
        index = self._normalise_index(item)
        selected = type(self)(metainfo=self.metainfo)
        for name, value in self.items():
            selected[name] = _select(value, index, name)
        return selected

    def _normalise_index(self, item: Any) -> slice | torch.Tensor:
        """Turn any accepted index into a slice or a 1-D int64 tensor."""
        length = len(self)
        if isinstance(item, slice):
            return item
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -length <= item < length:
                raise IndexError(
                    f"index {item} is out of range for InstanceData of length {length}"
                )
            start = int(item) % length
            return slice(start, start + 1)
        if isinstance(item, (list, tuple, np.ndarray)):
            item = torch.as_tensor(np.asarray(item))
        if not isinstance(item, torch.Tensor):
            raise TypeError(
                f"InstanceData cannot be indexed by {type(item).__name__}; use a field name, "
                "int, slice, index list/array/LongTensor or a BoolTensor mask"
            )
        if item.dim() != 1:
            raise IndexError(
                f"InstanceData index tensors must be 1-D, but got shape {tuple(item.shape)}"
            )
        if item.dtype == torch.bool:
            if len(item) != length:
                raise IndexError(
                    f"boolean index has length {len(item)}, but the InstanceData has length {length}"
                )
            return item.nonzero().view(-1)
        if item.numel() == 0:
            return item.long()
        if item.is_floating_point() or item.is_complex():
            raise TypeError(
                f"InstanceData index tensors must be integer or bool, but got {item.dtype}"
            )
        return item.long()

    @staticmethod
    def cat(instances_list: list[InstanceData]) -> InstanceData:
        """Concatenate instances of several InstanceData with the same fields (metainfo of the first)."""
        if len(instances_list) == 0:
            raise ValueError(
                "InstanceData.cat needs at least one InstanceData, but got an empty list"
            )
        for position, instances in enumerate(instances_list):
            if not isinstance(instances, InstanceData):
                raise TypeError(
                    f"InstanceData.cat: element {position} is a {type(instances).__name__}, "
                    "not an InstanceData"
                )
        first = instances_list[0]
        field_names = set(first.keys())
        for position, instances in enumerate(instances_list[1:], start=1):
            if set(instances.keys()) != field_names:
                raise ValueError(
                    f"InstanceData.cat: element {position} has fields {sorted(instances.keys())}, "
                    f"but element 0 has {sorted(field_names)}"
                )
        joined = type(first)(metainfo=first.metainfo)
        for name in first.keys():
            joined[name] = _concatenate([instances[name] for instances in instances_list], name)
        return joined


def _select(value: Any, index: slice | torch.Tensor, name: str) -> Any:
    """``value`` restricted to ``index`` (a slice or 1-D int64 tensor), keeping its type."""
    if isinstance(index, slice):
        return value[index]
    if isinstance(value, torch.Tensor):
        return value[index.to(value.device)]
    positions = index.cpu().numpy()
    if isinstance(value, np.ndarray):
        return value[positions]
    if isinstance(value, (list, tuple)):
        return type(value)(value[i] for i in positions.tolist())
    if isinstance(value, str):
        return "".join(value[i] for i in positions.tolist())
    if hasattr(value, "__getitem__") and hasattr(value, "cat"):
        return value[positions]
    raise TypeError(
        f"InstanceData field {name!r} is a {type(value).__name__}, which cannot be indexed by "
        "an index array (it needs __getitem__ and cat, like boxes and masks)"
    )


def _concatenate(values: list[Any], name: str) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(values)
    if isinstance(first, np.ndarray):
        return np.concatenate(values)
    if isinstance(first, (str, list, tuple)):
        joined = first
        for value in values[1:]:
            joined = joined + value
        return joined
    if hasattr(first, "cat"):
        return first.cat(values)
    raise TypeError(
        f"InstanceData.cat: field {name!r} is a {type(first).__name__}, which has no cat method"
    )
