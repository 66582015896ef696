"""The box-type registry: short names for box classes and converters between them.

Mirrors MMDetection 3.x's ``box_type`` module, so that a rotated-box package can plug in::

    @register_box_type("rbox")
    class RotatedBoxes(BaseBoxes): ...

    @register_box_type_converter("hbox", "rbox")
    def hbox2rbox(boxes: Tensor) -> Tensor: ...   # (..., 4) -> (..., 5)

after which ``convert_box_type(hboxes, dst_type="rbox")`` and ``hboxes.convert_to("rbox")``
work, and transforms decorated with :func:`autocast_box_type` accept either kind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from .base_boxes import BaseBoxes

#: Registered box classes by lower-case name, and the reverse mapping.
box_types: dict[str, type[BaseBoxes]] = {}
_box_type_to_name: dict[type[BaseBoxes], str] = {}
#: Converters between coordinate tensors, keyed "<src>2<dst>" (e.g. "hbox2rbox").
box_converters: dict[str, Callable[[Tensor], Tensor]] = {}

BoxesOrArray = TypeVar("BoxesOrArray", Tensor, np.ndarray, BaseBoxes)


def register_box_type(name: str, box_type: type | None = None, force: bool = False) -> Any:
    """Register a BaseBoxes subclass under ``name``; usable as ``@register_box_type('rbox')``.

    A name or class registered twice raises ``KeyError`` unless ``force=True``, which
    replaces the old entry.
    """
    if not isinstance(name, str):
        raise TypeError(f"box type name must be a str, but got {type(name).__name__}")

    def _register(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, BaseBoxes)):
            raise TypeError(f"box type {name!r} must be a subclass of BaseBoxes, but got {cls!r}")
        key = name.lower()
        if not force and (key in box_types or cls in _box_type_to_name):
            raise KeyError(
                f"box type {key!r} or class {cls.__name__} is already registered "
                f"(registered: {sorted(box_types)}); pass force=True to replace it"
            )
        if key in box_types:
            _box_type_to_name.pop(box_types.pop(key))
        if cls in _box_type_to_name:
            box_types.pop(_box_type_to_name.pop(cls))
        box_types[key] = cls
        _box_type_to_name[cls] = key
        return cls

    return _register if box_type is None else _register(box_type)


def register_box_type_converter(
    src_type: str | type,
    dst_type: str | type,
    converter: Callable[[Tensor], Tensor] | None = None,
    force: bool = False,
) -> Any:
    """Register a tensor-to-tensor converter between two registered box types.

    Usable as a decorator. ``converter`` maps a (..., src_box_dim) tensor to a
    (..., dst_box_dim) tensor.
    """
    src_name, _ = get_box_type(src_type)
    dst_name, _ = get_box_type(dst_type)
    key = f"{src_name}2{dst_name}"

    def _register(function: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        if not force and key in box_converters:
            raise KeyError(
                f"a converter from {src_name!r} to {dst_name!r} is already registered; "
                "pass force=True to replace it"
            )
        box_converters[key] = function
        return function

    return _register if converter is None else _register(converter)


# MMDetection 3.x spells them this way.
register_box = register_box_type
register_box_converter = register_box_type_converter


def get_box_type(box_type: str | type) -> tuple[str, type[BaseBoxes]]:
    """(name, class) of a registered box type given either its name or its class."""
    if isinstance(box_type, str):
        key = box_type.lower()
        if key not in box_types:
            raise KeyError(f"box type {key!r} is not registered; registered: {sorted(box_types)}")
        return key, box_types[key]
    if isinstance(box_type, type) and issubclass(box_type, BaseBoxes):
        if box_type not in _box_type_to_name:
            raise KeyError(
                f"box class {box_type.__name__} is not registered; use register_box_type first"
            )
        return _box_type_to_name[box_type], box_type
    raise TypeError(f"box_type must be a str or a BaseBoxes subclass, but got {box_type!r}")


def convert_box_type(
    boxes: BoxesOrArray, *, src_type: str | type | None = None, dst_type: str | type | None = None
) -> BoxesOrArray:
    """Convert boxes to ``dst_type``.

    Box objects convert to box objects of ``dst_type``; a plain Tensor or ndarray needs
    ``src_type`` and comes back as the same kind of array.
    """
    if dst_type is None:
        raise ValueError("convert_box_type needs dst_type")
    dst_name, dst_cls = get_box_type(dst_type)
    if isinstance(boxes, BaseBoxes):
        src_name, _ = get_box_type(type(boxes))
        coordinates = boxes.tensor
    elif isinstance(boxes, (Tensor, np.ndarray)):
        if src_type is None:
            raise ValueError("convert_box_type needs src_type when boxes is a Tensor or ndarray")
        src_name, _ = get_box_type(src_type)
        coordinates = torch.from_numpy(boxes) if isinstance(boxes, np.ndarray) else boxes
    else:
        raise TypeError(
            f"boxes must be a BaseBoxes, Tensor or ndarray, but got {type(boxes).__name__}"
        )
    if src_name == dst_name:
        return boxes
    key = f"{src_name}2{dst_name}"
    if key not in box_converters:
        raise KeyError(
            f"no converter from {src_name!r} to {dst_name!r} is registered "
            f"(registered: {sorted(box_converters)})"
        )
    converted = box_converters[key](coordinates)
    if isinstance(boxes, BaseBoxes):
        return dst_cls(converted, clone=False)
    return converted.numpy() if isinstance(boxes, np.ndarray) else converted


def autocast_box_type(dst_box_type: str | type = "hbox") -> Callable:
    """Decorate a transform's ``transform(self, results)`` so it sees box objects.

    ``results['gt_bboxes']`` (and those of ``results['mix_results']``) given as ndarrays are
    wrapped as ``dst_box_type`` boxes before the call, and box objects in the returned
    dict become ndarrays again, so pipelines of plain-array transforms keep working.
    """
    _, box_cls = get_box_type(dst_box_type)

    def decorator(transform: Callable) -> Callable:
        @functools.wraps(transform)
        def wrapper(self: Any, results: dict, *args: Any, **kwargs: Any) -> Any:
            boxes = results.get("gt_bboxes")
            if boxes is None or isinstance(boxes, BaseBoxes):
                return transform(self, results, *args, **kwargs)
            if not isinstance(boxes, np.ndarray):
                raise TypeError(
                    f"{transform.__qualname__} expects results['gt_bboxes'] to be boxes or an "
                    f"ndarray, but got {type(boxes).__name__}"
                )
            mixed = results.get("mix_results") or []
            for entry in [results, *mixed]:
                if isinstance(entry.get("gt_bboxes"), np.ndarray):
                    entry["gt_bboxes"] = box_cls(entry["gt_bboxes"], clone=False)
            output = transform(self, results, *args, **kwargs)
            for entry in [output, *mixed] if isinstance(output, dict) else mixed:
                if isinstance(entry.get("gt_bboxes"), BaseBoxes):
                    entry["gt_bboxes"] = entry["gt_bboxes"].numpy()
            return output

        return wrapper

    return decorator
