"""Averaged copies of a model's weights (EMA), updated after optimizer steps.

Each class is an ``nn.Module`` holding the averaged copy as ``.module`` and the number
of updates so far as the buffer ``steps``. The first update copies the weights; later
ones (every ``interval``-th) move every floating-point tensor towards the model's:

    averaged = (1 - m) * averaged + m * source      (m = momentum_at(steps))

so ``momentum`` is the weight of the *new* value, as in MMEngine (torch's
``AveragedModel`` calls ``1 - m`` the decay). Variants differ in ``momentum_at``:

- ExponentialMovingAverage: constant ``momentum``.
- ExpMomentumEMA (YOLOX, YOLOv5+): ``(1 - momentum) * exp(-(1 + steps) / gamma) + momentum``,
  large at the start and decaying exponentially to ``momentum``.
- MomentumAnnealingEMA: ``max(momentum, gamma / (gamma + steps))``, annealing like 1/steps.
- LinearMomentumEMA (MMDetection 2.x): ``min(momentum, (1 + steps) / (warm_up + steps))``,
  a slow start that grows towards ``momentum``.

With ``update_buffers=False`` buffers (BatchNorm statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class BaseAveragedModel(nn.Module):
    def __init__(self, model: nn.Module, interval: int = 1, device: str | torch.device | None = None,
                 update_buffers: bool = False):
        super().__init__()
        if interval < 1:
            raise ValueError(f"{type(self).__name__}: interval must be >= 1, got {interval}")
        self.module = copy.deepcopy(model).requires_grad_(False)
        if device is not None:
            self.module = self.module.to(device)
        self.interval = interval
        self.update_buffers = update_buffers
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long, device=device))

    def momentum_at(self, steps: int) -> float:
        raise NotImplementedError

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tracked(self, model: nn.Module) -> dict[str, torch.Tensor]:
        return model.state_dict() if self.update_buffers else dict(model.named_parameters())

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model``'s weights into this copy (see the module docstring)."""
        steps = int(self.steps)
        averaged = self._tracked(self.module)
        source = self._tracked(model)
        if steps == 0:
            for name, tensor in averaged.items():
                tensor.copy_(source[name])
        elif steps % self.interval == 0:
            names = [n for n, t in averaged.items() if t.dtype.is_floating_point]
            targets = [averaged[n] for n in names]
            sources = [source[n].to(averaged[n].device) for n in names]
            if targets:
                torch._foreach_lerp_(targets, sources, self.momentum_at(steps))
        if not self.update_buffers:
            for mine, theirs in zip(self.module.buffers(), model.buffers()):
                mine.copy_(theirs)
        self.steps += 1


class ExponentialMovingAverage(BaseAveragedModel):
    def __init__(self, model: nn.Module, momentum: float = 0.0002, interval: int = 1,
                 device: str | torch.device | None = None, update_buffers: bool = False):
        super().__init__(model, interval, device, update_buffers)
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in (0, 1), got {momentum}")
        self.momentum = momentum

    def momentum_at(self, steps: int) -> float:
        return self.momentum


class ExpMomentumEMA(ExponentialMovingAverage):
    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 2000,
                 interval: int = 1, device: str | torch.device | None = None,
                 update_buffers: bool = False):
        super().__init__(model, momentum, interval, device, update_buffers)
        if gamma <= 0:
            raise ValueError(f"{type(self).__name__}: gamma must be > 0, got {gamma}")
        self.gamma = gamma

    def momentum_at(self, steps: int) -> float:
        return (1 - self.momentum) * math.exp(-(1 + steps) / self.gamma) + self.momentum


class MomentumAnnealingEMA(ExponentialMovingAverage):
    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 100,
                 interval: int = 1, device: str | torch.device | None = None,
                 update_buffers: bool = False):
        super().__init__(model, momentum, interval, device, update_buffers)
        if gamma <= 0:
            raise ValueError(f"{type(self).__name__}: gamma must be > 0, got {gamma}")
        self.gamma = gamma

    def momentum_at(self, steps: int) -> float:
        return max(self.momentum, self.gamma / (self.gamma + steps))


class LinearMomentumEMA(ExponentialMovingAverage):
    def __init__(self, model: nn.Module, momentum: float = 0.0002, warm_up: int = 100,
                 interval: int = 1, device: str | torch.device | None = None,
                 update_buffers: bool = False):
        super().__init__(model, momentum, interval, device, update_buffers)
        if warm_up < 1:
            raise ValueError(f"{type(self).__name__}: warm_up must be >= 1, got {warm_up}")
        self.warm_up = warm_up

    def momentum_at(self, steps: int) -> float:
        return min(self.momentum, (1 + steps) / (self.warm_up + steps))
