"""LoggerHook: a readable line per logging interval, a JSON-lines log, TensorBoard, curves.

Console/text line (every ``interval`` iterations and after each evaluation):

    Epoch(train)  [1][ 50/733]  lr: 2.0000e-02  eta: 0:12:34  time: 0.5012  data_time: 0.0103  memory: 3000  loss: 1.2000  loss_cls: 0.8000
    Epoch(val) [1][625/625]  coco/bbox_mAP: 0.3740  ...

JSON lines (``WORK_DIR/<timestamp>.log.json``), one object per line, e.g.
``{"mode": "train", "epoch": 1, "iter": 50, "step": 50, "lr": 0.02, "loss": 1.2, ...}``;
``detcore analyze logs`` plots them, and at the end of a run the loss and metric curves
are drawn to ``WORK_DIR/<timestamp>_curves.png`` (when matplotlib is installed).
Losses are averaged over the last ``log_processor.window_size`` iterations (default:
the interval). TensorBoard scalars go to ``WORK_DIR/<timestamp>/tensorboard`` when
``tensorboard`` is True, or 'auto' and the tensorboard package is installed.
"""

from __future__ import annotations

import datetime
import json
import math
import numbers
import resource
import sys
from typing import Any

import torch

from detengine import dist
from detengine.hooks.hook import Hook
from detengine.priority import Priority


class LoggerHook(Hook):
    priority = Priority.BELOW_NORMAL

    def __init__(self, interval: int = 10, ignore_last: bool = True,
                 tensorboard: bool | str = "auto", draw_curves: bool = True):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"LoggerHook: interval must be a positive int, got {interval!r}")
        self.interval = interval
        self.ignore_last = ignore_last
        self.tensorboard = tensorboard
        self.draw_curves = draw_curves
        self._json = None
        self._writer = None
        self._pending: list[dict] = []  # loss tensors of the iterations since the last line

    # ------------------------------------------------------------------ setup and teardown
    def before_run(self, runner) -> None:
        if not dist.is_main_process():
            return
        if self._json is None:
            self._json = open(runner.json_log_file, "a", encoding="utf-8")
        if self._writer is None and self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                if self.tensorboard is True:
                    raise ImportError("LoggerHook(tensorboard=True) needs the tensorboard package: "
                                      "pip install tensorboard") from None
            else:
                self._writer = SummaryWriter(str(runner.work_dir / runner.timestamp / "tensorboard"))

    def after_run(self, runner) -> None:
        if self._json is not None:
            self._json.close()
            self._json = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.draw_curves and dist.is_main_process() and runner.json_log_file.is_file():
            self._draw_curves(runner)

    @staticmethod
    def _draw_curves(runner) -> None:
        from detengine.analyze_logs import LogAnalysisError, plot_curves

        try:
            import matplotlib  # noqa: F401 - optional: no curves without it
        except ImportError:
            return
        try:
            plot_curves([runner.json_log_file], runner.work_dir / f"{runner.timestamp}_curves.png")
        except LogAnalysisError as err:  # nothing to draw yet (e.g. a test run)
            runner.logger.debug(f"no training curves drawn: {err}")

    # ------------------------------------------------------------------ training
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        # Loss tensors are kept as they are and read out at the next log line: one
        # device-to-host copy per interval instead of one per iteration.
        pending = dict(outputs or {})
        if runner.optim_wrapper is not None:
            runner.history.update("train/lr", runner.optim_wrapper.param_groups[0]["lr"])
            if runner.optim_wrapper.last_grad_norm is not None:
                pending["grad_norm"] = runner.optim_wrapper.last_grad_norm
        if pending:
            self._pending.append(pending)
        dataloader = runner.train_loop.dataloader
        by_epoch = runner.log_processor.get("by_epoch", getattr(runner.train_loop, "by_epoch", True))
        at_interval = (self.every_n_inner_iters(batch_idx, self.interval) if by_epoch
                       else self.every_n_train_iters(runner, self.interval))
        last_of_epoch = by_epoch and self.end_of_epoch(dataloader, batch_idx)
        if at_interval or (last_of_epoch and not self.ignore_last):
            names = self._flush(runner)  # (an infinite sampler has no length: ask only by epoch)
            self._log_train(runner, batch_idx, by_epoch, len(dataloader) if by_epoch else 0, names)

    def _flush(self, runner) -> list[str]:
        """Move the pending loss values into runner.history; return their names."""
        names = list(dict.fromkeys(name for values in self._pending for name in values))
        for name in names:
            series = [values[name] for values in self._pending if name in values]
            for value in torch.stack([v.detach().float().reshape(()) for v in series]).tolist():
                runner.history.update(f"train/{name}", value)
        self._pending.clear()
        return names

    def after_train(self, runner) -> None:
        self._pending.clear()

    def _log_train(self, runner, batch_idx: int, by_epoch: bool, epoch_length: int,
                   loss_names: list[str]) -> None:
        window = runner.log_processor.get("window_size", self.interval)
        record: dict[str, Any] = {"mode": "train", "epoch": runner.epoch + 1,
                                  "iter": batch_idx + 1 if by_epoch else runner.iter + 1,
                                  "step": runner.iter + 1}
        history = runner.history
        if "train/lr" in history:
            record["lr"] = history.latest("train/lr")
        for name in ("time", "data_time"):
            if f"train/{name}" in history:
                record[name] = history.mean(f"train/{name}", window)
        record["memory"] = _memory_mb(runner.device)
        for name in loss_names:
            record[name] = history.mean(f"train/{name}", window)

        if by_epoch:
            width = len(str(epoch_length))
            head = f"Epoch(train) [{runner.epoch + 1}][{batch_idx + 1:>{width}}/{epoch_length}]"
        else:
            width = len(str(runner.max_iters))
            head = f"Iter(train) [{runner.iter + 1:>{width}}/{runner.max_iters}]"
        parts = [head]
        if "lr" in record:
            parts.append(f"lr: {record['lr']:.4e}")
        if "eta" in runner.info:
            parts.append(f"eta: {datetime.timedelta(seconds=int(runner.info['eta']))}")
        parts += [f"{k}: {_fmt(record[k])}" for k in record
                  if k not in ("mode", "epoch", "iter", "step", "lr")]
        runner.logger.info("  ".join(parts))
        self._write(record)

    # ------------------------------------------------------------------ evaluation
    def after_val_epoch(self, runner, metrics=None) -> None:
        self._log_metrics(runner, "val", metrics or {})

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._log_metrics(runner, "test", metrics or {})

    def _log_metrics(self, runner, mode: str, metrics: dict) -> None:
        runner.info.update({f"{mode}/{k}": v for k, v in metrics.items()})
        by_epoch = getattr(runner.built_loop("train"), "by_epoch", True)
        head = f"Epoch({mode}) [{runner.epoch}]" if by_epoch else f"Iter({mode}) [{runner.iter}]"
        shown = [f"{k}: {_fmt(v)}" for k, v in metrics.items() if _is_number(v)]
        runner.logger.info("  ".join([head, *shown]) if shown else f"{head}  (no metrics)")
        record = {"mode": mode, "epoch": runner.epoch, "iter": runner.iter, "step": runner.iter}
        record.update({k: float(v) for k, v in metrics.items() if _is_number(v)})
        self._write(record)

    # ------------------------------------------------------------------ output
    def _write(self, record: dict) -> None:
        if self._json is not None:
            self._json.write(json.dumps(record) + "\n")
            self._json.flush()
        if self._writer is not None:
            for key, value in record.items():
                if key not in ("mode", "epoch", "iter", "step") and _is_number(value):
                    self._writer.add_scalar(f"{record['mode']}/{key}", value, record["step"])


def _is_number(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if value != 0 and not math.isinf(value) and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.4e}"
    return f"{value:.4f}"


def _memory_mb(device: torch.device) -> int:
    """Peak memory in MiB: CUDA allocations on a GPU, the process's resident size on the CPU."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        return int(peak / 2**20)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss / 2**20 if sys.platform == "darwin" else rss / 2**10)
