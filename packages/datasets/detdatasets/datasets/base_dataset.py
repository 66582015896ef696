"""BaseDataset: MMEngine's dataset protocol (lazy images, serialised data list, pipeline).

A dataset loads its annotation file once into a *data list* of plain dicts, one per
image. With ``serialize_data=True`` (the default) the list is pickled into one numpy
uint8 buffer plus an array of end offsets, so DataLoader workers share two arrays
instead of copying (and reference-counting) millions of small Python objects.
Images are read later, by the pipeline (e.g. ``LoadImageFromFile``).
"""

from __future__ import annotations

import copy
import gc
import os.path as osp
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


class BaseDataset:
    """MMEngine-compatible base of every dataset here.

    Args:
        ann_file: annotation file, relative to ``data_root`` unless absolute.
        metainfo: overrides of the class attribute ``METAINFO`` (e.g. ``classes`` to
            select a subset). A string value that names an existing file is read as a
            list of lines.
        data_root: folder that ``ann_file`` and the ``data_prefix`` values are relative to.
        data_prefix: prefixes joined to the paths of each record, e.g. ``dict(img='train/')``.
        filter_cfg: options of :meth:`filter_data` (subclasses define them).
        indices: keep only these indices (an int keeps the first ``indices``).
        serialize_data: pack the data list into a numpy buffer (see module docstring).
        pipeline: transform configs or callables, composed by ``Compose``.
        test_mode: a pipeline returning None is then an error instead of a refetch.
        lazy_init: do not load annotations until :meth:`full_init` or the first access.
        max_refetch: how often ``__getitem__`` tries another random index when the
            pipeline returns None.
    """

    METAINFO: dict = {}
    _fully_initialized: bool = False

    def __init__(self, ann_file: str = "", metainfo: Mapping | None = None, data_root: str = "",
                 data_prefix: Mapping | None = None, filter_cfg: Mapping | None = None,
                 indices: int | Sequence[int] | None = None, serialize_data: bool = True,
                 pipeline: Sequence[Mapping | Callable] = (), test_mode: bool = False,
                 lazy_init: bool = False, max_refetch: int = 1000):
        self.ann_file = ann_file
        self.data_root = data_root
        self.data_prefix = dict(self.default_data_prefix() if data_prefix is None else data_prefix)
        self.filter_cfg = copy.deepcopy(filter_cfg)
        self._indices = indices
        self.serialize_data = serialize_data
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self.data_list: list[dict] = []
        self.data_bytes: np.ndarray | None = None
        self.data_address: np.ndarray | None = None
        self._metainfo = self._load_metainfo(copy.deepcopy(metainfo))
        self._join_prefix()
        # imported here: the transforms package loads torch, which reading annotations
        # (the data tools, the synthetic generator) does not need
        from detdatasets.transforms.compose import Compose

        self.pipeline = Compose(pipeline)
        if not lazy_init:
            self.full_init()

    @classmethod
    def default_data_prefix(cls) -> dict:
        return {"img_path": ""}

    # ------------------------------------------------------------------ metainfo
    @classmethod
    def _load_metainfo(cls, metainfo: Mapping | None) -> dict:
        merged = copy.deepcopy(cls.METAINFO)
        if metainfo is None:
            return merged
        if not isinstance(metainfo, Mapping):
            raise TypeError(f"metainfo must be a dict, got {type(metainfo).__name__}")
        for key, value in metainfo.items():
            if isinstance(value, str) and osp.isfile(value):
                with open(value) as f:
                    value = [line.strip() for line in f if line.strip()]
            merged[key] = tuple(value) if key == "classes" else value
        return merged

    @property
    def metainfo(self) -> dict:
        """A copy of the dataset's meta information (``classes``, ``palette``, ...)."""
        return copy.deepcopy(self._metainfo)

    def _join_prefix(self) -> None:
        if self.ann_file and not osp.isabs(self.ann_file) and self.data_root:
            self.ann_file = osp.join(self.data_root, self.ann_file)
        for key, prefix in self.data_prefix.items():
            if not isinstance(prefix, str):
                raise TypeError(f"data_prefix['{key}'] must be a str, got {prefix!r}")
            if prefix and not osp.isabs(prefix) and self.data_root:
                self.data_prefix[key] = osp.join(self.data_root, prefix)
            elif not prefix and self.data_root:
                self.data_prefix[key] = self.data_root

    # ------------------------------------------------------------------ loading
    def full_init(self) -> None:
        """Load, filter, subset and serialise the data list (once)."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def load_data_list(self) -> list[dict]:
        """Read the annotation file into a list of per-image dicts (subclasses implement)."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_data_list")

    def filter_data(self) -> list[dict]:
        """Drop unwanted records according to ``filter_cfg`` (default: keep all)."""
        return self.data_list

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        chunks = [np.frombuffer(pickle.dumps(info, protocol=4), dtype=np.uint8)
                  for info in self.data_list]
        address = np.cumsum([len(c) for c in chunks], dtype=np.int64)
        data_bytes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
        self.data_list = []  # the buffer replaces the Python objects
        gc.collect()
        return data_bytes, address

    # ------------------------------------------------------------------ access
    def _check_initialized(self, caller: str) -> None:
        if not self._fully_initialized:
            warnings.warn(f"{type(self).__name__}.{caller}() was called before full_init(); "
                          f"loading the annotations now", stacklevel=3)
            self.full_init()

    def __len__(self) -> int:
        self._check_initialized("__len__")
        return len(self.data_address) if self.serialize_data else len(self.data_list)

    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of record ``idx``, with ``sample_idx`` set to its (non-negative) index."""
        self._check_initialized("get_data_info")
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} with "
                             f"{length} samples")
        idx = idx % length
        if self.serialize_data:
            start = 0 if idx == 0 else int(self.data_address[idx - 1])
            end = int(self.data_address[idx])
            info = pickle.loads(self.data_bytes[start:end].tobytes())
        else:
            info = copy.deepcopy(self.data_list[idx])
        info["sample_idx"] = idx
        return info

    def prepare_data(self, idx: int) -> Any:
        """The record passed through the pipeline (None when a transform rejects it)."""
        return self.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> Any:
        self._check_initialized("__getitem__")
        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                raise RuntimeError(f"{type(self).__name__}: the test pipeline returned None for "
                                   f"index {idx}; test pipelines must not drop samples")
            return data
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                return data
            idx = self._rand_another()
        raise RuntimeError(f"{type(self).__name__}: the pipeline returned None for "
                           f"{self.max_refetch + 1} samples in a row; check the image paths and "
                           f"the pipeline's filters")

    def _rand_another(self) -> int:
        return int(np.random.randint(0, len(self)))

    # ------------------------------------------------------------------ subsets
    def get_subset_(self, indices: int | Sequence[int]) -> None:
        """Keep only ``indices`` (an int n: the first n, or the last -n when negative)."""
        self._check_initialized("get_subset_")
        if self.serialize_data:
            self.data_bytes, self.data_address = self._get_serialized_subset(indices)
        else:
            self.data_list = self._get_unserialized_subset(indices)

    def get_subset(self, indices: int | Sequence[int]) -> BaseDataset:
        """A copy of the dataset holding only ``indices`` (see :meth:`get_subset_`)."""
        subset = copy.copy(self)
        subset._metainfo = copy.deepcopy(self._metainfo)
        subset.get_subset_(indices)
        return subset

    def _normalise_indices(self, indices: int | Sequence[int], length: int) -> list[int]:
        if isinstance(indices, int):
            return list(range(indices)) if indices >= 0 else list(range(length + indices, length))
        if not isinstance(indices, Sequence):
            raise TypeError(f"indices must be an int or a sequence of ints, got "
                            f"{type(indices).__name__}")
        for i in indices:
            if not -length <= i < length:
                raise IndexError(f"subset index {i} is out of range for {length} samples")
        return [i % length for i in indices]

    def _get_unserialized_subset(self, indices: int | Sequence[int]) -> list[dict]:
        return [self.data_list[i] for i in self._normalise_indices(indices, len(self.data_list))]

    def _get_serialized_subset(self, indices: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        picked = np.asarray(self._normalise_indices(indices, len(self.data_address)), np.int64)
        starts = np.concatenate([[0], self.data_address[:-1]])[picked]
        ends = self.data_address[picked]
        chunks = [self.data_bytes[s:e] for s, e in zip(starts, ends)]
        data_bytes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
        return data_bytes, np.cumsum(ends - starts, dtype=np.int64)

    def __repr__(self) -> str:
        size = len(self) if self._fully_initialized else "not loaded"
        return (f"{type(self).__name__}(ann_file={self.ann_file!r}, samples={size}, "
                f"classes={len(self._metainfo.get('classes', ()))}, pipeline={len(self.pipeline)} "
                f"transforms)")
