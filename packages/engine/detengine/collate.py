"""Collate functions for ``collate_fn=dict(type=...)`` in dataloader configs.

``pseudo_collate`` keeps samples as lists (detection images differ in size; the
model's data preprocessor pads and stacks them). ``default_collate`` stacks tensors
like torch's. Both keep the structure of a sample: a list of dicts becomes a dict of
lists (or stacked tensors).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate as _torch_default_collate


def pseudo_collate(batch: Sequence[Any]) -> Any:
    """Turn a list of samples into one sample whose leaves are lists of the per-sample leaves."""
    if not isinstance(batch, Sequence) or not batch:
        raise ValueError(f"pseudo_collate expects a non-empty list of samples, got {batch!r}")
    first = batch[0]
    if isinstance(first, Mapping):
        return {key: pseudo_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(pseudo_collate(list(f)) for f in zip(*batch)))
    if isinstance(first, Sequence) and not isinstance(first, str):
        lengths = {len(sample) for sample in batch}
        if len(lengths) != 1:
            raise ValueError(f"pseudo_collate: samples have sequences of different lengths "
                             f"{sorted(lengths)}; every sample must have the same structure")
        return [pseudo_collate(list(items)) for items in zip(*batch)]
    return list(batch)


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack tensors and numbers as torch does; leave other objects (data samples) in lists."""
    first = batch[0]
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (torch.Tensor, int, float)) or type(first).__module__ == "numpy":
        return _torch_default_collate(list(batch))
    if isinstance(first, Sequence) and not isinstance(first, str):
        return [default_collate(list(items)) for items in zip(*batch)]
    return list(batch)


def resolve_collate_fn(cfg: Any) -> Callable:
    """The collate function a dataloader config names.

    ``cfg`` is None (pseudo_collate), a callable, a name in the FUNCTIONS registry
    (``'pseudo_collate'``, ``'default_collate'``, or one a plugin registers), or a dict with
    ``type`` set to one of those (the other keys are bound as keyword arguments).
    """
    from detcore.registry import FUNCTIONS

    if cfg is None:
        return pseudo_collate
    if callable(cfg):
        return cfg
    kwargs: dict = {}
    if isinstance(cfg, Mapping):
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        cfg = cfg.get("type")
    func = cfg if callable(cfg) else FUNCTIONS.get(cfg)
    return functools.partial(func, **kwargs) if kwargs else func
