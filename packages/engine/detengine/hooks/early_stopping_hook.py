"""EarlyStoppingHook: stop training when a validation metric stops improving.

    custom_hooks = [dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', patience=5,
                         min_delta=0.001)]

After each validation the monitored metric must beat the best so far by more than
``min_delta`` (in the direction of ``rule``, inferred from the name like CheckpointHook
does); after ``patience`` validations without that, training stops at the end of the
current epoch. ``stopping_threshold`` stops as soon as the metric reaches it;
``check_finite`` stops on NaN or infinite values.
"""

from __future__ import annotations

import math

from detengine.hooks.checkpoint_hook import GREATER_KEYS, LESS_KEYS
from detengine.hooks.hook import Hook
from detengine.priority import Priority


class EarlyStoppingHook(Hook):
    priority = Priority.LOWEST

    def __init__(self, monitor: str, rule: str | None = None, min_delta: float = 0.1,
                 strict: bool = False, check_finite: bool = True, patience: int = 5,
                 stopping_threshold: float | None = None):
        if rule is None:
            if any(k in monitor for k in GREATER_KEYS):
                rule = "greater"
            elif any(k in monitor for k in LESS_KEYS):
                rule = "less"
            else:
                raise ValueError(f"EarlyStoppingHook: cannot tell whether a larger '{monitor}' is "
                                 f"better; set rule='greater' or rule='less'")
        if rule not in ("greater", "less"):
            raise ValueError(f"EarlyStoppingHook: rule must be 'greater' or 'less', got '{rule}'")
        self.monitor = monitor
        self.rule = rule
        self.min_delta = abs(min_delta)
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.best = -math.inf if rule == "greater" else math.inf
        self.wait_count = 0

    def _improved(self, value: float) -> bool:
        if self.rule == "greater":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def _reached(self, value: float) -> bool:
        if self.stopping_threshold is None:
            return False
        return value >= self.stopping_threshold if self.rule == "greater" else value <= self.stopping_threshold

    def after_val_epoch(self, runner, metrics=None) -> None:
        metrics = metrics or {}
        if self.monitor not in metrics:
            if self.strict:
                raise KeyError(f"EarlyStoppingHook: monitor '{self.monitor}' is not among the "
                               f"validation metrics {sorted(metrics)}")
            runner.logger.warning(f"EarlyStoppingHook: '{self.monitor}' was not reported; skipped")
            return
        value = float(metrics[self.monitor])
        reason = None
        if self.check_finite and not math.isfinite(value):
            reason = f"{self.monitor} is {value}"
        elif self._reached(value):
            reason = f"{self.monitor} = {value:.4f} reached the threshold {self.stopping_threshold}"
        elif self._improved(value):
            self.best, self.wait_count = value, 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                reason = (f"{self.monitor} has not improved by more than {self.min_delta} for "
                          f"{self.patience} validations (best {self.best:.4f})")
        if reason:
            runner.train_loop.stop_training = True
            runner.logger.info(f"early stopping: {reason}")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["meta"]["early_stopping"] = {"best": self.best, "wait_count": self.wait_count}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("meta", {}).get("early_stopping")
        if state and runner.resumed:
            self.best, self.wait_count = state["best"], state["wait_count"]
