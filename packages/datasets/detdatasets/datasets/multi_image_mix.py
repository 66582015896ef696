"""MultiImageMixDataset: the wrapper that feeds mixing transforms (Mosaic, MixUp, ...)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from detdatasets.datasets.wrappers import _Wrapper, build_dataset


class MultiImageMixDataset(_Wrapper):
    """Runs ``pipeline`` on top of the wrapped dataset's own (loading) pipeline.

    Before a transform that has ``get_indexes(dataset)`` (Mosaic, MixUp, ...), the
    samples at those indexes are loaded and passed in ``results['mix_results']``. A
    loading result of None makes it draw other indexes, and a transform returning None
    is retried, each up to ``max_refetch`` times. ``skip_type_keys`` switches transforms
    off by type name (e.g. to stop Mosaic for the last epochs).
    """

    def __init__(self, dataset, pipeline: Sequence[Mapping | Callable],
                 skip_type_keys: Sequence[str] | None = None, max_refetch: int = 15,
                 lazy_init: bool = False):
        self.dataset = build_dataset(dataset)
        self._metainfo = self.dataset.metainfo
        self.pipeline: list[Callable] = []
        self.pipeline_types: list[str] = []
        for i, transform in enumerate(pipeline):
            if isinstance(transform, Mapping):
                from detcore.registry import TRANSFORMS

                self.pipeline_types.append(str(transform["type"]))
                transform = TRANSFORMS.build(transform)
            elif callable(transform):
                self.pipeline_types.append(type(transform).__name__)
            else:
                raise TypeError(f"MultiImageMixDataset pipeline[{i}] must be a config dict or a "
                                f"callable, got {type(transform).__name__}")
            self.pipeline.append(transform)
        self.update_skip_type_keys(skip_type_keys)
        self.max_refetch = max_refetch
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, "full_init"):
            self.dataset.full_init()
        self._ori_len = len(self.dataset)
        self._fully_initialized = True

    def update_skip_type_keys(self, skip_type_keys: Sequence[str] | None) -> None:
        """Skip the transforms whose type names are listed (None: skip none)."""
        if skip_type_keys is not None and not all(isinstance(k, str) for k in skip_type_keys):
            raise TypeError(f"skip_type_keys must be a list of str, got {skip_type_keys!r}")
        self._skip_type_keys = None if skip_type_keys is None else list(skip_type_keys)

    def __len__(self) -> int:
        self._check_initialized()
        return self._ori_len

    def _locate(self, idx: int) -> tuple[Any, int]:
        return self.dataset, idx

    def __getitem__(self, idx: int) -> Any:
        self._check_initialized()
        results = copy.deepcopy(self.dataset[self._bounded(idx)])
        for transform, type_name in zip(self.pipeline, self.pipeline_types):
            if self._skip_type_keys is not None and type_name in self._skip_type_keys:
                continue
            if hasattr(transform, "get_indexes"):
                results["mix_results"] = self._load_mix_results(transform, type_name)
            for _ in range(self.max_refetch):
                updated = transform(copy.deepcopy(results))
                if updated is not None:
                    results = updated
                    break
            else:
                raise RuntimeError(f"MultiImageMixDataset: {type_name} returned None "
                                   f"{self.max_refetch} times in a row; check its settings")
            results.pop("mix_results", None)
        return results

    def _load_mix_results(self, transform, type_name: str) -> list:
        for _ in range(self.max_refetch):
            indexes = transform.get_indexes(self.dataset)
            if not isinstance(indexes, Sequence):
                indexes = [indexes]
            mix_results = [copy.deepcopy(self.dataset[i]) for i in indexes]
            if all(r is not None for r in mix_results):
                return mix_results
        raise RuntimeError(f"MultiImageMixDataset: the wrapped dataset's pipeline returned None "
                           f"for the images {type_name} asked for, {self.max_refetch} times; "
                           f"check the dataset and its pipeline")
