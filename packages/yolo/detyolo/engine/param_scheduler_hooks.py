"""YOLOv5ParamSchedulerHook: YOLOv5's learning-rate and momentum schedule, as a hook.

    default_hooks = dict(param_scheduler=dict(type='YOLOv5ParamSchedulerHook',
                                              scheduler_type='linear', lr_factor=0.01,
                                              max_epochs=300))
    param_scheduler = None

With ``f`` the decay curve (linear: ``1 - (1 - lr_factor) * e / max_epochs``; cosine: from
1 to ``lr_factor`` along half a cosine), base lr ``lr_g`` of group g and ``W =
max(round(warmup_epochs * iters_per_epoch), warmup_mim_iter)``:

- before every iteration ``i <= W`` (epoch e): lr_g = interp(i, [0, W], [start_g,
  lr_g * f(e)]) with start = ``warmup_bias_lr`` for group 2 (YOLOv5OptimizerConstructor's
  biases) and 0 for the others; momentum = interp(i, [0, W], [``warmup_momentum``, its
  base value]);
- after every epoch e whose last iteration came after the warm-up: lr_g = lr_g * f(e)
  (for the next epoch, as MMYOLO).

YOLOv8 uses the same hook (MMYOLO: max_epochs=500, lr_factor=0.01).
"""

from __future__ import annotations

import math

import numpy as np

from detengine.hooks.hook import Hook


def linear_decay(lr_factor: float, max_epochs: int):
    """Epoch -> lr multiplier falling linearly from 1 at epoch 0 to ``lr_factor`` at ``max_epochs``."""
    return lambda epoch: (1 - epoch / max_epochs) * (1.0 - lr_factor) + lr_factor


def cosine_decay(lr_factor: float, max_epochs: int):
    """Epoch -> lr multiplier falling along half a cosine from 1 to ``lr_factor``."""
    return lambda epoch: (1 - math.cos(epoch * math.pi / max_epochs)) / 2 * (lr_factor - 1) + 1


DECAYS = {"linear": linear_decay, "cosine": cosine_decay}

#: YOLOv5OptimizerConstructor's bias group, whose warm-up starts at warmup_bias_lr
BIAS_GROUP = 2


class YOLOv5ParamSchedulerHook(Hook):
    """Warm up (per iteration) and then decay (per epoch) lr and momentum; see the module
    docstring. It replaces the ``param_scheduler`` list, which must be None.

    Args:
        scheduler_type: 'linear' or 'cosine'.
        lr_factor: final lr as a fraction of the base lr.
        max_epochs: the epoch at which the decay curve reaches ``lr_factor``.
        warmup_epochs: warm-up length in epochs...
        warmup_mim_iter: ...but at least this many iterations (MMYOLO's spelling).
        warmup_bias_lr: lr of the bias group at the start of the warm-up.
        warmup_momentum: momentum at the start of the warm-up.
    """

    priority = 9  # MMYOLO's: before the other hooks of the iteration

    def __init__(self, scheduler_type: str = "linear", lr_factor: float = 0.01,
                 max_epochs: int = 300, warmup_epochs: float = 3, warmup_bias_lr: float = 0.1,
                 warmup_momentum: float = 0.8, warmup_mim_iter: int = 1000):
        if scheduler_type not in DECAYS:
            raise ValueError(f"YOLOv5ParamSchedulerHook: scheduler_type must be one of "
                             f"{sorted(DECAYS)}, got {scheduler_type!r}")
        if not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"YOLOv5ParamSchedulerHook: max_epochs must be a positive int, "
                             f"got {max_epochs!r}")
        self.scheduler_type = scheduler_type
        self.lr_factor = lr_factor
        self.max_epochs = max_epochs
        self.warmup_epochs = warmup_epochs
        self.warmup_bias_lr = warmup_bias_lr
        self.warmup_momentum = warmup_momentum
        self.warmup_mim_iter = warmup_mim_iter
        self.decay = DECAYS[scheduler_type](lr_factor, max_epochs)
        self.base_lrs: list[float] = []
        self.base_momentums: list[float | None] = []

    def warmup_iters(self, iters_per_epoch: int) -> int:
        return max(round(self.warmup_epochs * iters_per_epoch), self.warmup_mim_iter)

    def warmup_values(self, group: int, iteration: int, epoch: int, warmup_iters: int
                      ) -> tuple[float, float | None]:
        """(lr, momentum) of param group ``group`` before ``iteration`` of the warm-up."""
        start = self.warmup_bias_lr if group == BIAS_GROUP else 0.0
        lr = float(np.interp(iteration, [0, warmup_iters],
                             [start, self.base_lrs[group] * self.decay(epoch)]))
        momentum = self.base_momentums[group]
        if momentum is not None:
            momentum = float(np.interp(iteration, [0, warmup_iters],
                                       [self.warmup_momentum, momentum]))
        return lr, momentum

    def before_train(self, runner) -> None:
        if runner.param_schedulers:
            raise ValueError("YOLOv5ParamSchedulerHook sets lr and momentum itself; set "
                             "param_scheduler=None in the config")
        groups = runner.optim_wrapper.optimizer.param_groups
        for group in groups:  # kept in the optimizer's state, so resuming finds them
            group.setdefault("initial_lr", group["lr"])
            group.setdefault("initial_momentum", group.get("momentum"))
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.base_momentums = [group["initial_momentum"] for group in groups]

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        warmup_iters = self.warmup_iters(len(runner.train_dataloader))
        if runner.iter > warmup_iters:
            return
        for index, group in enumerate(runner.optim_wrapper.optimizer.param_groups):
            group["lr"], momentum = self.warmup_values(index, runner.iter, runner.epoch,
                                                       warmup_iters)
            if momentum is not None:
                group["momentum"] = momentum

    def after_train_epoch(self, runner) -> None:
        last_iter = runner.iter - 1  # the iteration that ended this epoch
        if last_iter <= self.warmup_iters(len(runner.train_dataloader)):
            return
        factor = self.decay(runner.epoch)
        for base_lr, group in zip(self.base_lrs, runner.optim_wrapper.optimizer.param_groups):
            group["lr"] = base_lr * factor
