"""BaseDataElement: the container every detection annotation and prediction travels in.

Behaves like MMEngine's class of the same name. A data element holds two kinds of fields:

* metainfo fields: facts about the sample (``img_shape``, ``scale_factor``, ``img_id``...),
  set with :meth:`set_metainfo` and never moved by :meth:`to`, :meth:`cpu`, :meth:`numpy`...;
* data fields: tensors, arrays and nested elements, set by attribute assignment or
  :meth:`set_field`, and carried along by the device/format conversions.

A name belongs to one kind only; reusing it for the other kind raises ``AttributeError``.
Subclasses validate values by overriding :meth:`_validate_data_field`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

_BOOKKEEPING = ("_metainfo_fields", "_data_fields")


class BaseDataElement:
    """A bag of metainfo fields and data fields with attribute access.

    Examples:
        >>> sample = BaseDataElement(metainfo=dict(img_shape=(800, 1333)), scores=torch.ones(3))
        >>> sample.img_shape, sample.scores.shape
        ((800, 1333), torch.Size([3]))
        >>> 'scores' in sample, sample.keys(), sample.metainfo_keys()
        (True, ['scores'], ['img_shape'])
    """

    def __init__(self, *, metainfo: dict | None = None, **kwargs: Any) -> None:
        # Dicts used as insertion-ordered sets, so keys() follows assignment order.
        object.__setattr__(self, "_metainfo_fields", {})
        object.__setattr__(self, "_data_fields", {})
        if metainfo is not None:
            self.set_metainfo(metainfo)
        if kwargs:
            self.set_data(kwargs)

    # ------------------------------------------------------------------ setting fields
    def set_metainfo(self, metainfo: dict) -> None:
        """Add or overwrite metainfo fields (values are deep-copied)."""
        if not isinstance(metainfo, dict):
            raise TypeError(f"metainfo must be a dict, but got {type(metainfo).__name__}")
        for name, value in copy.deepcopy(metainfo).items():
            self.set_field(value, name, field_type="metainfo")

    def set_data(self, data: dict) -> None:
        """Add or overwrite data fields, as if each were assigned as an attribute."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, but got {type(data).__name__}")
        for name, value in data.items():
            setattr(self, name, value)

    def update(self, instance: BaseDataElement) -> None:
        """Copy every metainfo and data field of ``instance`` into this element."""
        if not isinstance(instance, BaseDataElement):
            raise TypeError(
                f"update() expects a BaseDataElement, but got {type(instance).__name__}"
            )
        self.set_metainfo(dict(instance.metainfo_items()))
        self.set_data(dict(instance.items()))

    def set_field(
        self,
        value: Any,
        name: str,
        dtype: type | tuple[type, ...] | None = None,
        field_type: str = "data",
    ) -> None:
        """Set ``name`` as a metainfo or data field, optionally checking ``isinstance(value, dtype)``."""
        if field_type not in ("metainfo", "data"):
            raise ValueError(f"field_type must be 'metainfo' or 'data', but got {field_type!r}")
        if name in _BOOKKEEPING:
            raise AttributeError(
                f"{name} is a private attribute of {type(self).__name__} and is immutable"
            )
        other_kind = self._data_fields if field_type == "metainfo" else self._metainfo_fields
        if name in other_kind:
            other = "data" if field_type == "metainfo" else "metainfo"
            raise AttributeError(
                f"Cannot set {name!r} as a {field_type} field of {type(self).__name__}: "
                f"it is already a {other} field"
            )
        self._check_not_shadowing(name)
        if dtype is not None and not isinstance(value, dtype):
            raise TypeError(
                f"{type(self).__name__}.{name} must be {dtype}, but got {type(value).__name__}"
            )
        if field_type == "data":
            value = self._validate_data_field(name, value)
        # Store before bookkeeping: a typed descriptor may still reject the value.
        object.__setattr__(self, name, value)
        (self._metainfo_fields if field_type == "metainfo" else self._data_fields)[name] = None

    def _validate_data_field(self, name: str, value: Any) -> Any:
        """Hook for subclasses: check (and possibly normalise) a data value before storing it."""
        return value

    def _check_not_shadowing(self, name: str) -> None:
        class_attr = getattr(type(self), name, None)
        if callable(class_attr) or isinstance(class_attr, property):
            raise AttributeError(
                f"Cannot use {name!r} as a field name of {type(self).__name__}: "
                f"it would hide {type(self).__name__}.{name}"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        self.set_field(value, name, field_type="data")

    def __delattr__(self, name: str) -> None:
        if name in _BOOKKEEPING:
            raise AttributeError(
                f"{name} is a private attribute of {type(self).__name__} and is immutable"
            )
        object.__delattr__(self, name)
        self._metainfo_fields.pop(name, None)
        self._data_fields.pop(name, None)

    __delitem__ = __delattr__

    def __getattr__(self, name: str) -> Any:
        # Reached only when normal lookup fails: say which fields do exist.
        if name.startswith("__") or "_data_fields" not in self.__dict__:
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} has no field {name!r} "
            f"(metainfo fields: {self.metainfo_keys()}, data fields: {self.keys()})"
        )

    # ------------------------------------------------------------------ reading fields
    def get(self, key: str, default: Any = None) -> Any:
        """Value of field ``key``, or ``default`` when it is not set."""
        return getattr(self, key, default)

    def pop(self, *args: Any) -> Any:
        """Remove field ``args[0]`` and return its value; ``args[1]`` is the default if absent."""
        if not 1 <= len(args) <= 2:
            raise TypeError(f"pop expected 1 or 2 arguments, got {len(args)}")
        name = args[0]
        if name in self:
            value = getattr(self, name)
            delattr(self, name)
            return value
        if len(args) == 2:
            return args[1]
        raise KeyError(f"{name!r} is neither a metainfo nor a data field of {type(self).__name__}")

    def __contains__(self, name: str) -> bool:
        return name in self._data_fields or name in self._metainfo_fields

    def keys(self) -> list[str]:
        """Names of the data fields, in assignment order."""
        return list(self._data_fields)

    def metainfo_keys(self) -> list[str]:
        return list(self._metainfo_fields)

    def all_keys(self) -> list[str]:
        return self.metainfo_keys() + self.keys()

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def metainfo_values(self) -> list[Any]:
        return [getattr(self, k) for k in self.metainfo_keys()]

    def all_values(self) -> list[Any]:
        return self.metainfo_values() + self.values()

    def items(self) -> Iterator[tuple[str, Any]]:
        for k in self.keys():
            yield k, getattr(self, k)

    def metainfo_items(self) -> Iterator[tuple[str, Any]]:
        for k in self.metainfo_keys():
            yield k, getattr(self, k)

    def all_items(self) -> Iterator[tuple[str, Any]]:
        yield from self.metainfo_items()
        yield from self.items()

    @property
    def metainfo(self) -> dict:
        """A dict of all metainfo fields."""
        return dict(self.metainfo_items())

    def to_dict(self) -> dict:
        """All fields as a plain dict; nested data elements become dicts too."""
        return {
            k: v.to_dict() if isinstance(v, BaseDataElement) else v for k, v in self.all_items()
        }

    # ------------------------------------------------------------------ copies
    def new(self, *, metainfo: dict | None = None, **kwargs: Any) -> BaseDataElement:
        """An element of the same class; fields not given are shared with this one (shallow)."""
        new_element = type(self)()
        new_element.set_metainfo(self.metainfo if metainfo is None else metainfo)
        new_element.set_data(kwargs if kwargs else dict(self.items()))
        return new_element

    def clone(self) -> BaseDataElement:
        """A deep copy: tensors are cloned (keeping autograd history), other values deep-copied."""
        return self._map_data(_clone_value)

    def _map_data(self, convert: Callable[[Any], Any]) -> BaseDataElement:
        """A new element with the same metainfo and ``convert`` applied to every data value."""
        new_element = type(self)(metainfo=self.metainfo)
        for name, value in self.items():
            new_element.set_field(convert(value), name)
        return new_element

    # ------------------------------------------------------------------ devices and formats
    def to(self, *args: Any, **kwargs: Any) -> BaseDataElement:
        """Apply ``.to(*args, **kwargs)`` to every data value that has it."""
        return self._map_data(lambda v: v.to(*args, **kwargs) if hasattr(v, "to") else v)

    def cpu(self) -> BaseDataElement:
        return self._map_data(lambda v: _call_if_tensor_like(v, "cpu"))

    def cuda(self) -> BaseDataElement:
        return self._map_data(lambda v: _call_if_tensor_like(v, "cuda"))

    def detach(self) -> BaseDataElement:
        return self._map_data(lambda v: _call_if_tensor_like(v, "detach"))

    def numpy(self) -> BaseDataElement:
        """Tensors become ndarrays (detached, on the CPU); nested elements and boxes follow."""
        return self._map_data(_to_numpy)

    def to_tensor(self) -> BaseDataElement:
        """ndarrays become tensors (sharing memory); nested elements follow."""
        return self._map_data(_to_tensor)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return _describe(self)


def _call_if_tensor_like(value: Any, method: str) -> Any:
    """Call ``value.<method>()`` on tensors, data elements and box objects; leave the rest."""
    if isinstance(value, (torch.Tensor, BaseDataElement)) or _is_boxes(value):
        return getattr(value, method)()
    return value


def _is_boxes(value: Any) -> bool:
    # Box classes hold a `.tensor`; imported lazily to keep this module free of a cycle.
    from .bbox.base_boxes import BaseBoxes

    return isinstance(value, BaseBoxes)


def _clone_value(value: Any) -> Any:
    if isinstance(value, (torch.Tensor, BaseDataElement)) or _is_boxes(value):
        return value.clone()
    return copy.deepcopy(value)


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, BaseDataElement) or _is_boxes(value):
        return value.numpy()
    return value


def _to_tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, BaseDataElement):
        return value.to_tensor()
    return value


def _indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.split("\n"))


def _describe(value: Any) -> str:
    """Readable multi-line description; nested elements are indented under their field."""
    if not isinstance(value, BaseDataElement):
        return repr(value)
    lines = [f"<{type(value).__name__}(", "", "    META INFORMATION"]
    lines += [_indent(f"{k}: {_describe(v)}") for k, v in value.metainfo_items()]
    lines += ["", "    DATA FIELDS"]
    lines += [_indent(f"{k}: {_describe(v)}") for k, v in value.items()]
    lines.append(f") at {hex(id(value))}>")
    return "\n".join(lines)
