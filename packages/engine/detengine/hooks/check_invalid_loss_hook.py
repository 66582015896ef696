"""CheckInvalidLossHook: stop training at the first NaN or infinite loss.

Raises InvalidLossError naming the iteration, the loss terms that went bad and the last
checkpoint written, which stays intact (the error comes before any later save), so
``resume=True`` can continue from it, for example with a lower learning rate.
"""

from __future__ import annotations

import math

import torch

from detengine.hooks.hook import Hook
from detengine.priority import Priority


class InvalidLossError(FloatingPointError):
    """The loss became NaN or infinite."""


class CheckInvalidLossHook(Hook):
    """``interval``: check every n-th iteration (1 = every one; larger values save a
    device-to-host sync per skipped iteration but may let a bad step reach a checkpoint)."""

    priority = Priority.ABOVE_NORMAL

    def __init__(self, interval: int = 1):
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        names = list(outputs)
        values = torch.stack([outputs[n].detach().float() for n in names]).tolist()
        bad = {n: v for n, v in zip(names, values) if not math.isfinite(v)}
        if not bad:
            return
        from detengine.checkpoint import find_latest_checkpoint

        latest = find_latest_checkpoint(runner.work_dir)
        terms = ", ".join(f"{n}={v}" for n, v in bad.items())
        keep = (f"the last good checkpoint is {latest}; resume from it with resume=True "
                f"(e.g. with a lower lr or gradient clipping)" if latest
                else "no checkpoint had been written yet")
        raise InvalidLossError(f"loss became invalid at epoch {runner.epoch + 1}, iteration "
                               f"{runner.iter + 1}: {terms}. Training stopped; {keep}.")
