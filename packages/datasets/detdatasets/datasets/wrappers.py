"""Dataset wrappers: concatenation, repetition, class-balanced oversampling (MMEngine's).

Each wraps datasets given as objects or as config dicts (built through ``DATASETS``),
maps its own indices onto theirs, and exposes ``metainfo``, ``get_data_info`` and
``get_cat_ids`` so samplers and other wrappers can sit on top.
"""

from __future__ import annotations

import bisect
import copy
import math
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any


def build_dataset(dataset: Any) -> Any:
    """A dataset object as it is, or one built from a config dict through ``DATASETS``."""
    if isinstance(dataset, Mapping):
        from detcore.registry import DATASETS

        return DATASETS.build(dataset)
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(f"expected a dataset or a dataset config dict, got "
                        f"{type(dataset).__name__}")
    return dataset


class _Wrapper:
    """Shared plumbing: lazy initialisation and the index mapping onto wrapped datasets."""

    _fully_initialized = False

    def full_init(self) -> None:
        raise NotImplementedError

    def _check_initialized(self) -> None:
        if not self._fully_initialized:
            warnings.warn(f"{type(self).__name__} was accessed before full_init(); "
                          f"initialising now", stacklevel=3)
            self.full_init()

    def _locate(self, idx: int) -> tuple[Any, int]:
        """(wrapped dataset, its index) for wrapper index ``idx``."""
        raise NotImplementedError

    def _bounded(self, idx: int) -> int:
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} with "
                             f"{length} samples")
        return idx % length

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def get_data_info(self, idx: int) -> dict:
        self._check_initialized()
        dataset, sample_idx = self._locate(self._bounded(idx))
        return dataset.get_data_info(sample_idx)

    def get_cat_ids(self, idx: int) -> list[int]:
        self._check_initialized()
        dataset, sample_idx = self._locate(self._bounded(idx))
        return dataset.get_cat_ids(sample_idx)

    def __getitem__(self, idx: int) -> Any:
        self._check_initialized()
        dataset, sample_idx = self._locate(self._bounded(idx))
        return dataset[sample_idx]


class ConcatDataset(_Wrapper):
    """Several datasets one after the other. Their metainfo must agree (except
    ``ignore_keys``); the wrapper reports the first one's."""

    def __init__(self, datasets: Sequence, lazy_init: bool = False,
                 ignore_keys: str | Sequence[str] | None = None):
        self.datasets = [build_dataset(d) for d in datasets]
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.ignore_keys = [ignore_keys] if isinstance(ignore_keys, str) else list(ignore_keys or [])
        self._metainfo = self.datasets[0].metainfo
        keys = set().union(*(d.metainfo.keys() for d in self.datasets)) - set(self.ignore_keys)
        for i, dataset in enumerate(self.datasets[1:], start=1):
            for key in sorted(keys):
                if key not in dataset.metainfo or key not in self._metainfo:
                    raise ValueError(f"ConcatDataset: metainfo key '{key}' is missing from "
                                     f"dataset {0 if key not in self._metainfo else i}; add it "
                                     f"or list it in ignore_keys")
                if dataset.metainfo[key] != self._metainfo[key]:
                    raise ValueError(f"ConcatDataset: metainfo '{key}' of dataset {i} "
                                     f"({dataset.metainfo[key]!r}) differs from dataset 0's "
                                     f"({self._metainfo[key]!r}); list it in ignore_keys if "
                                     f"that is intended")
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            if hasattr(dataset, "full_init"):
                dataset.full_init()
        sizes = [len(d) for d in self.datasets]
        self.cumulative_sizes = [sum(sizes[:i + 1]) for i in range(len(sizes))]
        self._fully_initialized = True

    def __len__(self) -> int:
        self._check_initialized()
        return self.cumulative_sizes[-1]

    def _locate(self, idx: int) -> tuple[Any, int]:
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if dataset_idx == 0 else self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx], idx - start


class RepeatDataset(_Wrapper):
    """The dataset ``times`` times over (cheap longer epochs for small datasets)."""

    def __init__(self, dataset, times: int, lazy_init: bool = False):
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"RepeatDataset: times must be a positive int, got {times!r}")
        self.dataset = build_dataset(dataset)
        self.times = times
        self._metainfo = self.dataset.metainfo
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, "full_init"):
            self.dataset.full_init()
        self._ori_len = len(self.dataset)
        self._fully_initialized = True

    def __len__(self) -> int:
        self._check_initialized()
        return self.times * self._ori_len

    def _locate(self, idx: int) -> tuple[Any, int]:
        return self.dataset, idx % self._ori_len


class ClassBalancedDataset(_Wrapper):
    """Repeat-factor sampling (LVIS paper): image i is repeated ceil(r_i) times, where
    r_i = max over its categories c of max(1, sqrt(oversample_thr / f_c)) and f_c is the
    fraction of images containing c. Images without categories are kept once.
    Needs ``dataset.get_cat_ids(idx)``.
    """

    def __init__(self, dataset, oversample_thr: float, lazy_init: bool = False):
        self.dataset = build_dataset(dataset)
        if not hasattr(self.dataset, "get_cat_ids"):
            raise TypeError(f"ClassBalancedDataset needs a dataset with get_cat_ids(idx); "
                            f"{type(self.dataset).__name__} has none")
        self.oversample_thr = oversample_thr
        self._metainfo = self.dataset.metainfo
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, "full_init"):
            self.dataset.full_init()
        self.repeat_factors = self._get_repeat_factors()
        self.repeat_indices = [i for i, factor in enumerate(self.repeat_factors)
                               for _ in range(math.ceil(factor))]
        self._fully_initialized = True

    def _get_repeat_factors(self) -> list[float]:
        cat_sets = [set(self.dataset.get_cat_ids(i)) for i in range(len(self.dataset))]
        images_with: dict[int, int] = defaultdict(int)
        for cats in cat_sets:
            for cat in cats:
                images_with[cat] += 1
        cat_repeat = {cat: max(1.0, math.sqrt(self.oversample_thr / (n / len(cat_sets))))
                      for cat, n in images_with.items()}
        return [max((cat_repeat[c] for c in cats), default=1.0) for cats in cat_sets]

    def __len__(self) -> int:
        self._check_initialized()
        return len(self.repeat_indices)

    def _locate(self, idx: int) -> tuple[Any, int]:
        return self.dataset, self.repeat_indices[idx]
