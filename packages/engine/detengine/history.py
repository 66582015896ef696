"""Recent values of the scalars a run logs (loss terms, lr, iteration times), for
smoothed log lines and the ETA. Hooks write, the logger reads."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping


class ScalarHistory:
    """A bounded history per scalar name. ``mean(name, window)`` averages the last values."""

    def __init__(self, max_length: int = 1000):
        self.max_length = max_length
        self._values: dict[str, deque[float]] = {}

    def update(self, name: str, value: float) -> None:
        self._values.setdefault(name, deque(maxlen=self.max_length)).append(float(value))

    def update_many(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.update(name, value)

    def mean(self, name: str, window: int | None = None) -> float:
        values = self._values[name]
        recent = list(values)[-window:] if window else values
        return sum(recent) / len(recent)

    def latest(self, name: str) -> float:
        return self._values[name][-1]

    def count(self, name: str) -> int:
        return len(self._values.get(name, ()))

    def names(self) -> list[str]:
        return list(self._values)

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name))

    def clear(self, name: str | None = None) -> None:
        if name is None:
            self._values.clear()
        else:
            self._values.pop(name, None)
