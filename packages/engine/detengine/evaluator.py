"""Evaluator: feeds predictions to one or more metrics and merges their results.

A metric follows MMEngine's BaseMetric interface: ``dataset_meta`` (set from the
dataset's ``metainfo``), ``process(data_batch, data_samples)`` called per batch with
the predictions as dicts, and ``evaluate(size) -> dict`` at the end, which (as in
MMEngine) gathers the results of every rank itself and returns the same dict on all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detcore.registry import METRICS
from detengine.config_errors import ConfigKeyError, building


class Evaluator:
    def __init__(self, metrics: Any, key: str = "val_evaluator"):
        cfgs = metrics if isinstance(metrics, Sequence) and not isinstance(metrics, str) else [metrics]
        self.metrics = []
        for index, cfg in enumerate(cfgs):
            label = f"{key}.{index}" if len(cfgs) > 1 else key
            with building(label):
                metric = METRICS.build(cfg) if isinstance(cfg, Mapping) else cfg
            for method in ("process", "evaluate"):
                if not callable(getattr(metric, method, None)):
                    raise ConfigKeyError(label, f"{type(metric).__name__} has no {method}() method; "
                                         f"a metric needs process(data_batch, data_samples) and "
                                         f"evaluate(size)")
            self.metrics.append(metric)

    @property
    def dataset_meta(self) -> dict | None:
        return getattr(self.metrics[0], "dataset_meta", None) if self.metrics else None

    @dataset_meta.setter
    def dataset_meta(self, meta: dict | None) -> None:
        for metric in self.metrics:
            metric.dataset_meta = meta

    def process(self, data_samples: Sequence, data_batch: Any = None) -> None:
        """Hand one batch of predictions to every metric (data elements as dicts)."""
        as_dicts = [s.to_dict() if hasattr(s, "to_dict") else s for s in data_samples]
        for metric in self.metrics:
            metric.process(data_batch, as_dicts)

    def evaluate(self, size: int) -> dict[str, Any]:
        """Every metric's results in one dict; two metrics may not report the same name."""
        results: dict[str, Any] = {}
        for metric in self.metrics:
            for name, value in metric.evaluate(size).items():
                if name in results:
                    raise ValueError(f"two metrics both report '{name}'; give them different "
                                     f"prefixes (the metric's prefix argument)")
                results[name] = value
        return results
