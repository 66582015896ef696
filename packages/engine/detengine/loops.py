"""Loops: what the runner does for ``train_cfg``, ``val_cfg`` and ``test_cfg``.

    train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
    train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=10000)
    val_cfg = dict(type='ValLoop');  test_cfg = dict(type='TestLoop')

A train loop validates (``runner.val_loop``) when at least ``val_begin`` epochs
(iterations) are done and the count is a multiple of ``val_interval``, and always at the
end. ``dynamic_intervals=[(milestone, interval), ...]`` switches ``val_interval`` as
MMEngine does: once ``done + 1 >= milestone`` (e.g. YOLOX validates every epoch over its
last 15). Setting ``stop_training`` (EarlyStoppingHook does) ends training after the
current epoch (iteration).
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Sequence

import torch

from detengine.config_errors import ConfigKeyError
from detengine.model_steps import test_step, train_step, val_step
from detengine.progress import progress_bar
from detengine.randomness import rng_state, set_rng_state


def _positive_int(value, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigKeyError(key, f"must be a positive int, got {value!r}")
    return value


class _ValSchedule:
    """When to validate: ``val_begin``, ``val_interval`` and ``dynamic_intervals``."""

    def __init__(self, val_begin: int, val_interval: int, dynamic_intervals: Sequence | None):
        self.val_begin = val_begin
        self.val_interval = _positive_int(val_interval, "train_cfg.val_interval")
        pairs = sorted((int(m), int(i)) for m, i in (dynamic_intervals or []))
        self._milestones = [0] + [m for m, _ in pairs]
        self._intervals = [val_interval] + [i for _, i in pairs]

    def due(self, done: int, total: int) -> bool:
        self.val_interval = self._intervals[bisect.bisect(self._milestones, done + 1) - 1]
        return done >= self.val_begin and (done % self.val_interval == 0 or done == total)


class EpochBasedTrainLoop:
    by_epoch = True

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals: Sequence | None = None):
        self.runner = runner
        self.dataloader = runner.build_dataloader(dataloader, key="train_dataloader")
        self._max_epochs = _positive_int(max_epochs, "train_cfg.max_epochs")
        self._max_iters = self._max_epochs * len(self.dataloader)
        self._epoch = 0
        self._iter = 0
        self.stop_training = False
        self.val_schedule = _ValSchedule(val_begin, val_interval, dynamic_intervals)

    max_epochs = property(lambda self: self._max_epochs)
    max_iters = property(lambda self: self._max_iters)
    epoch = property(lambda self: self._epoch)
    iter = property(lambda self: self._iter)

    def run(self):
        runner = self.runner
        runner.call_hook("before_train")
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            if runner.val_loop is not None and self.val_schedule.due(self._epoch, self._max_epochs):
                runner.val_loop.run()
        runner.call_hook("after_train")
        return runner.model

    def run_epoch(self) -> None:
        runner = self.runner
        runner.call_hook("before_train_epoch")
        runner.model.train()
        batches = progress_bar(self.dataloader, len(self.dataloader),
                               f"train epoch {self._epoch + 1}/{self._max_epochs}", runner.progress)
        for batch_idx, data_batch in enumerate(batches):
            self.run_iter(batch_idx, data_batch)
        runner.call_hook("after_train_epoch")
        self._epoch += 1

    def run_iter(self, batch_idx: int, data_batch) -> None:
        runner = self.runner
        runner.call_hook("before_train_iter", batch_idx=batch_idx, data_batch=data_batch)
        outputs = train_step(runner.model, data_batch, runner.optim_wrapper)
        runner.call_hook("after_train_iter", batch_idx=batch_idx, data_batch=data_batch,
                         outputs=outputs)
        self._iter += 1

    def state_dict(self) -> dict:
        return {"epoch": self._epoch, "iter": self._iter}

    def load_state_dict(self, state: dict) -> None:
        self._epoch, self._iter = state["epoch"], state["iter"]


class _EndlessBatches:
    """Batches of a dataloader forever: restarts it (next sampler epoch) when it runs out."""

    def __init__(self, dataloader):
        self.dataloader = dataloader
        self.epoch = 0
        self._iterator = iter(dataloader)

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self.epoch += 1
            for sampler in (getattr(self.dataloader, "sampler", None),
                            getattr(self.dataloader, "batch_sampler", None)):
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(self.epoch)
            self._iterator = iter(self.dataloader)
            return next(self._iterator)


class IterBasedTrainLoop:
    by_epoch = False

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals: Sequence | None = None):
        self.runner = runner
        self.dataloader = runner.build_dataloader(dataloader, key="train_dataloader")
        self._max_iters = _positive_int(max_iters, "train_cfg.max_iters")
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.stop_training = False
        self.val_schedule = _ValSchedule(val_begin, val_interval, dynamic_intervals)

    max_epochs = property(lambda self: self._max_epochs)
    max_iters = property(lambda self: self._max_iters)
    epoch = property(lambda self: self._epoch)
    iter = property(lambda self: self._iter)

    def run(self):
        runner = self.runner
        runner.call_hook("before_train")
        runner.call_hook("before_train_epoch")
        if self._iter:
            runner.logger.info(f"resuming at iteration {self._iter}: skipping the batches "
                               f"already trained on")
            state = rng_state()  # loading the skipped batches must not move the random stream
            batches = _EndlessBatches(self.dataloader)
            for _ in range(self._iter):
                next(batches)
            set_rng_state(state)
        else:
            batches = _EndlessBatches(self.dataloader)
        runner.model.train()
        bar = progress_bar(range(self._iter, self._max_iters), self._max_iters - self._iter,
                           "train", runner.progress)
        for _ in bar:
            if self.stop_training:
                break
            self.run_iter(next(batches))
            if runner.val_loop is not None and self.val_schedule.due(self._iter, self._max_iters):
                runner.val_loop.run()
                runner.model.train()
        runner.call_hook("after_train_epoch")
        runner.call_hook("after_train")
        return runner.model

    def run_iter(self, data_batch) -> None:
        runner = self.runner
        runner.call_hook("before_train_iter", batch_idx=self._iter, data_batch=data_batch)
        outputs = train_step(runner.model, data_batch, runner.optim_wrapper)
        runner.call_hook("after_train_iter", batch_idx=self._iter, data_batch=data_batch,
                         outputs=outputs)
        self._iter += 1

    def state_dict(self) -> dict:
        return {"epoch": self._epoch, "iter": self._iter}

    def load_state_dict(self, state: dict) -> None:
        self._epoch, self._iter = state["epoch"], state["iter"]


class _EvalLoop:
    """Shared body of ValLoop and TestLoop: predict every batch, then evaluate."""

    stage = ""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False):
        self.runner = runner
        self.dataloader = runner.build_dataloader(dataloader, key=f"{self.stage}_dataloader")
        self.evaluator = runner.build_evaluator(evaluator, key=f"{self.stage}_evaluator")
        meta = getattr(self.dataloader.dataset, "metainfo", None)
        if meta is not None:
            self.evaluator.dataset_meta = meta
        self.fp16 = fp16
        self._step = val_step if self.stage == "val" else test_step

    def run(self) -> dict:
        runner, stage = self.runner, self.stage
        runner.call_hook(f"before_{stage}")
        runner.call_hook(f"before_{stage}_epoch")
        runner.model.eval()
        batches = progress_bar(self.dataloader, len(self.dataloader), stage, runner.progress)
        for batch_idx, data_batch in enumerate(batches):
            self.run_iter(batch_idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        runner.call_hook(f"after_{stage}_epoch", metrics=metrics)
        runner.call_hook(f"after_{stage}")
        return metrics

    @torch.no_grad()
    def run_iter(self, batch_idx: int, data_batch) -> None:
        runner, stage = self.runner, self.stage
        runner.call_hook(f"before_{stage}_iter", batch_idx=batch_idx, data_batch=data_batch)
        autocast = (torch.autocast(runner.device.type) if self.fp16 else contextlib.nullcontext())
        with autocast:
            outputs = self._step(runner.model, data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        runner.call_hook(f"after_{stage}_iter", batch_idx=batch_idx, data_batch=data_batch,
                         outputs=outputs)


class ValLoop(_EvalLoop):
    stage = "val"


class TestLoop(_EvalLoop):
    stage = "test"
