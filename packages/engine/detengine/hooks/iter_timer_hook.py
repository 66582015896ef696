"""IterTimerHook: how long iterations and data loading take, and the ETA of training."""

from __future__ import annotations

import time

from detengine.hooks.hook import Hook
from detengine.priority import Priority


class IterTimerHook(Hook):
    """Records ``{stage}/time`` (a whole iteration) and ``{stage}/data_time`` (waiting for
    the batch) in ``runner.history``, and ``runner.info['eta']`` (seconds) during training."""

    priority = Priority.NORMAL

    def __init__(self):
        self._last = 0.0
        self._train_start_iter = 0
        self._train_time_total = 0.0

    def _start(self) -> None:
        self._last = time.perf_counter()

    def _before_iter(self, runner, stage: str) -> None:
        runner.history.update(f"{stage}/data_time", time.perf_counter() - self._last)

    def _after_iter(self, runner, stage: str) -> float:
        now = time.perf_counter()
        elapsed = now - self._last
        self._last = now
        runner.history.update(f"{stage}/time", elapsed)
        return elapsed

    def before_train(self, runner) -> None:
        self._train_start_iter = runner.iter
        self._train_time_total = 0.0

    def before_train_epoch(self, runner) -> None:
        self._start()

    def before_val_epoch(self, runner) -> None:
        self._start()

    def before_test_epoch(self, runner) -> None:
        self._start()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._before_iter(runner, "train")

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._before_iter(runner, "val")

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._before_iter(runner, "test")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._train_time_total += self._after_iter(runner, "train")
        done = runner.iter + 1 - self._train_start_iter
        runner.info["eta"] = self._train_time_total / done * (runner.max_iters - runner.iter - 1)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._after_iter(runner, "val")

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._after_iter(runner, "test")
