"""DistSamplerSeedHook: tells the training sampler which epoch starts, so that its
shuffle differs between epochs and agrees between ranks (and after a resume)."""

from __future__ import annotations

from detengine.hooks.hook import Hook
from detengine.priority import Priority


class DistSamplerSeedHook(Hook):
    priority = Priority.NORMAL

    def before_train_epoch(self, runner) -> None:
        dataloader = runner.train_loop.dataloader
        batch_sampler = getattr(dataloader, "batch_sampler", None)
        for sampler in (getattr(dataloader, "sampler", None), getattr(batch_sampler, "sampler", None)):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(runner.epoch)
                return
