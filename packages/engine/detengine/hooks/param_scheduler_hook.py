"""ParamSchedulerHook: steps iteration-based schedulers after every iteration and
epoch-based ones after every epoch (after the optimizer step, as torch expects)."""

from __future__ import annotations

from detengine.hooks.hook import Hook
from detengine.priority import Priority


class ParamSchedulerHook(Hook):
    priority = Priority.LOW

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        for scheduler in runner.param_schedulers:
            if not scheduler.by_epoch:
                scheduler.step()

    def after_train_epoch(self, runner) -> None:
        for scheduler in runner.param_schedulers:
            if scheduler.by_epoch:
                scheduler.step()
