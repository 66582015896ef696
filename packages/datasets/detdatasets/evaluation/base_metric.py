"""MMEngine's metric interface: collect results batch by batch, compute once at the end.

The engine sets ``metric.dataset_meta``, calls ``process(data_batch, data_samples)`` after
every batch and ``evaluate(len(dataset))`` when the loop ends. Under torch.distributed each
process only saw its share of the samples: ``evaluate`` gathers every share (in the
order a round-robin sampler dealt them, padding trimmed), computes on rank 0 and hands
the same metrics to every rank. Nothing here imports torch unless torch.distributed is
already in use.
"""

from __future__ import annotations

import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_MISSING = object()


class BaseMetric(ABC):
    """Base of evaluation metrics, with MMEngine's attributes and methods.

    Args:
        collect_device: where results travel when gathered across processes, 'cpu'
            (through a gloo group when the default backend is nccl) or 'gpu'.
        prefix: put before every metric name as ``prefix/name``; defaults to the class's
            ``default_prefix``.
    """

    default_prefix: str | None = None

    def __init__(self, collect_device: str = "cpu", prefix: str | None = None) -> None:
        if collect_device not in ("cpu", "gpu"):
            raise ValueError(f"collect_device must be 'cpu' or 'gpu', got {collect_device!r}")
        self.collect_device = collect_device
        self.prefix = prefix or self.default_prefix
        self.results: list = []
        self._dataset_meta: dict | None = None

    @property
    def dataset_meta(self) -> dict | None:
        """The dataset's metainfo (``classes``, ...), set by the engine before evaluation."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta

    @abstractmethod
    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Turn one batch of data samples (with predictions) into entries of ``self.results``."""

    @abstractmethod
    def compute_metrics(self, results: list) -> dict:
        """Metrics (name -> value, without prefix) from the results of the whole dataset."""

    def evaluate(self, size: int) -> dict:
        """Gather results of all processes, compute the metrics, prefix their names.

        Args:
            size: number of samples in the dataset; extra results that a distributed
                sampler added by padding are dropped.
        """
        if not self.results:
            warnings.warn(
                f"{type(self).__name__}.results is empty: process() was never called before evaluate()",
                stacklevel=2,
            )
        results = collect_results(self.results, size, self.collect_device)
        metrics = None
        if results is not None:  # the main process
            computed = self.compute_metrics(results)
            metrics = {f"{self.prefix}/{k}" if self.prefix else k: v for k, v in computed.items()}
        metrics = broadcast_object(metrics, self.collect_device)
        self.results.clear()
        return metrics


def collect_results(part: list, size: int, device: str = "cpu") -> list | None:
    """All processes' results in dataset order on rank 0 (None elsewhere).

    Rank r holds samples r, r + world, r + 2*world...; interleaving the parts restores
    the order and ``[:size]`` drops the sampler's padding.
    """
    dist = _distributed()
    if dist is None:
        return list(part[:size])
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, part, group=_group(dist, device))
    if dist.get_rank() != 0:
        return None
    return interleave(parts)[:size]


def broadcast_object(obj: Any, device: str = "cpu") -> Any:
    """Rank 0's ``obj`` on every process (``obj`` itself when not distributed)."""
    dist = _distributed()
    if dist is None:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0, group=_group(dist, device))
    return holder[0]


def interleave(parts: Sequence[Sequence]) -> list:
    """[a0, b0, a1, b1, ...] from [[a0, a1, ...], [b0, b1, ...]]; parts may differ in length."""
    longest = max((len(p) for p in parts), default=0)
    return [p[i] for i in range(longest) for p in parts if i < len(p)]


def _distributed():
    """torch.distributed when it is initialised with more than one process, else None."""
    torch = sys.modules.get("torch")  # never import torch just to learn it is not in use
    if torch is None or not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return None
    return torch.distributed if torch.distributed.get_world_size() > 1 else None


_GLOO_GROUPS: dict = {}


def _group(dist, device: str):
    """The process group to gather through: a gloo group for 'cpu' under nccl."""
    if device == "gpu" or dist.get_backend() == "gloo":
        return None
    if "gloo" not in _GLOO_GROUPS:
        _GLOO_GROUPS["gloo"] = dist.new_group(backend="gloo")
    return _GLOO_GROUPS["gloo"]


def sample_field(sample: Any, name: str, default: Any = _MISSING) -> Any:
    """``sample[name]`` for a dict, ``sample.name`` for a data element; a clear error if absent."""
    if isinstance(sample, Mapping):
        value = sample.get(name, default)
    else:
        value = getattr(sample, name, default)
    if value is _MISSING:
        raise KeyError(f"data sample ({type(sample).__name__}) has no field '{name}'")
    return value


def to_numpy(value: Any) -> np.ndarray:
    """A tensor, box structure (``.tensor``) or array-like as a NumPy array."""
    value = getattr(value, "tensor", value)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
