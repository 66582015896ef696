"""Input checks shared by the op modules: each names the argument and says what it expected,
so that bad input fails in Python with a readable message instead of inside a kernel."""

from __future__ import annotations

import torch

_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_tensor(name: str, value, *, shape: tuple | None = None, floating: bool = False,
                 integer: bool = False) -> None:
    """Raise TypeError/ValueError unless ``value`` is a tensor of the given kind and shape.

    ``shape`` lists the expected sizes; ``None`` in it means any size, ``...`` as its first
    item allows any leading (batch) dimensions.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and value.dtype not in _FLOATING:
        raise TypeError(f"{name} must be a floating point tensor, got {value.dtype}")
    if integer and (value.dtype.is_floating_point or value.dtype.is_complex
                    or value.dtype == torch.bool):
        raise TypeError(f"{name} must be an integer tensor, got {value.dtype}")
    if shape is not None and not _shape_matches(tuple(value.shape), shape):
        raise ValueError(f"{name} must have shape {_describe(shape)}, got {tuple(value.shape)}")


def check_same_device(**tensors: torch.Tensor) -> None:
    """Raise ValueError when the named tensors are not all on one device."""
    devices = {name: t.device for name, t in tensors.items() if t is not None}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"all tensors must be on the same device, got {listed}")


def check_same_length(**tensors: torch.Tensor) -> None:
    """Raise ValueError when the named tensors differ in their first dimension."""
    lengths = {name: int(t.shape[0]) for name, t in tensors.items() if t is not None}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"tensors must have the same number of rows, but {listed}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype kernels compute in: float16 and bfloat16 are upcast to float32."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _shape_matches(actual: tuple, expected: tuple) -> bool:
    if expected and expected[0] is Ellipsis:
        expected = expected[1:]
        if len(actual) < len(expected):
            return False
        actual = actual[len(actual) - len(expected):]
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected))


def _describe(shape: tuple) -> str:
    names = iter("NMKLPQ")
    parts = ["..." if s is Ellipsis else (next(names) if s is None else str(s)) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
