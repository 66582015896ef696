"""Parameter schedulers: change lr (or momentum, or any param-group value) over a run.

    param_scheduler = [
        dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
        dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1)]

Semantics are MMEngine's (and torch.optim.lr_scheduler's): each scheduler is active for
steps ``begin <= step < end`` (epochs if ``by_epoch`` else iterations) and updates the
value in *chainable* form, i.e. multiplies or shifts the current value, so several
schedulers active at the same time compose (warm-up by iteration under a step decay by
epoch). ``last_step`` counts steps since ``begin``. ``convert_to_iter_based=True`` (in the
config) turns an epoch-based scheduler into an iteration-based one with the same shape,
via ``build_iter_from_epoch``; the arguments in ``epoch_args`` are scaled with it.

Each policy is a ``*ParamScheduler`` taking ``param_name``; ``*LR`` and ``*Momentum``
are the same policies bound to 'lr' and 'momentum' (betas[0] for Adam-like optimizers).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

INF = int(1e9)


def _get(group: dict, param_name: str) -> float:
    if param_name == "momentum" and "betas" in group:
        return group["betas"][0]
    return group[param_name]


def _set(group: dict, param_name: str, value: float) -> None:
    if param_name == "momentum" and "betas" in group:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group[param_name] = value


class ParamScheduler:
    """Base class: subclasses compute the next values in ``_get_value``.

    ``optimizer`` is an OptimWrapper or a torch optimizer (anything with ``param_groups``).
    """

    #: constructor arguments counted in epochs that ``build_iter_from_epoch`` scales
    epoch_args: tuple[str, ...] = ()

    def __init__(self, optimizer, param_name: str, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True):
        self.optimizer = optimizer
        self.param_name = param_name
        if end <= begin:
            raise ValueError(f"{type(self).__name__}: end ({end}) must be larger than begin ({begin})")
        self.begin, self.end, self.by_epoch = begin, end, by_epoch
        for index, group in enumerate(optimizer.param_groups):
            if param_name not in group and not (param_name == "momentum" and "betas" in group):
                raise ValueError(f"{type(self).__name__}: param group {index} of the optimizer has "
                                 f"no '{param_name}' to schedule (keys: {sorted(group)})")
            group.setdefault(f"initial_{param_name}", _get(group, param_name))
        self.base_values = [group[f"initial_{param_name}"] for group in optimizer.param_groups]
        self.last_step = last_step
        self.global_step = -1
        self._last_value: list[float] = []
        self.step()

    @classmethod
    def build_iter_from_epoch(cls, *args, epoch_length: int, begin: int = 0, end: int = INF,
                              by_epoch: bool = True, **kwargs):
        """The same schedule counted in iterations of an epoch of ``epoch_length`` iterations."""
        if not by_epoch:
            raise ValueError(f"{cls.__name__}: convert_to_iter_based needs by_epoch=True")
        if not isinstance(epoch_length, int) or epoch_length <= 0:
            raise ValueError(f"{cls.__name__}: epoch_length must be a positive int, got {epoch_length!r}")
        for name in cls.epoch_args:
            value = kwargs.get(name)
            if isinstance(value, Sequence):
                kwargs[name] = [v * epoch_length for v in value]
            elif value is not None:
                kwargs[name] = value * epoch_length
        end = end if end == INF else int(end * epoch_length)
        return cls(*args, begin=int(begin * epoch_length), end=end, by_epoch=False, **kwargs)

    def step(self) -> None:
        """Advance one epoch or iteration and write the new values into the param groups."""
        self.global_step += 1
        if self.begin <= self.global_step < self.end:
            self.last_step += 1
            for group, value in zip(self.optimizer.param_groups, self._get_value()):
                _set(group, self.param_name, value)
        self._last_value = [_get(group, self.param_name) for group in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [_get(group, self.param_name) for group in self.optimizer.param_groups]

    def _get_value(self) -> list[float]:
        raise NotImplementedError

    def get_last_value(self) -> list[float]:
        return self._last_value

    def state_dict(self) -> dict:
        """Progress only (the settings come from the config): plain numbers and lists."""
        return {"global_step": self.global_step, "last_step": self.last_step,
                "base_values": list(self.base_values), "last_value": list(self._last_value)}

    def load_state_dict(self, state: dict) -> None:
        self.global_step = state["global_step"]
        self.last_step = state["last_step"]
        self.base_values = list(state["base_values"])
        self._last_value = list(state["last_value"])

    def __repr__(self) -> str:
        unit = "epoch" if self.by_epoch else "iter"
        return f"{type(self).__name__}({self.param_name}, {unit} {self.begin}..{self.end})"


class ConstantParamScheduler(ParamScheduler):
    """Multiply by ``factor`` from ``begin`` until the last step before ``end``."""

    def __init__(self, optimizer, param_name: str, factor: float = 1.0 / 3, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True):
        if not 0 < factor <= 1.0:
            raise ValueError(f"{type(self).__name__}: factor must be in (0, 1], got {factor}")
        self.factor = factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        if self.last_step == 0:
            return [v * self.factor for v in self._current()]
        if self.last_step != self.total_iters:
            return self._current()
        return [v / self.factor for v in self._current()]


class StepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every ``step_size`` steps."""

    epoch_args = ("step_size",)

    def __init__(self, optimizer, param_name: str, step_size: int, gamma: float = 0.1,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        if self.last_step == 0 or self.last_step % self.step_size:
            return self._current()
        return [v * self.gamma for v in self._current()]


class MultiStepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` at each milestone (steps counted from ``begin``)."""

    epoch_args = ("milestones",)

    def __init__(self, optimizer, param_name: str, milestones: Sequence[int], gamma: float = 0.1,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        times = self.milestones.get(self.last_step, 0)
        return [v * self.gamma ** times for v in self._current()] if times else self._current()


class ExponentialParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every step."""

    def __init__(self, optimizer, param_name: str, gamma: float, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True):
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        if self.last_step == 0:
            return self._current()
        return [v * self.gamma for v in self._current()]


class LinearParamScheduler(ParamScheduler):
    """Scale the value by a factor going linearly from ``start_factor`` (at ``begin``) to
    ``end_factor`` (at ``end - 1``): the usual learning-rate warm-up."""

    def __init__(self, optimizer, param_name: str, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True):
        for label, factor in (("start_factor", start_factor), ("end_factor", end_factor)):
            if not 0 <= factor <= 1.0:
                raise ValueError(f"{type(self).__name__}: {label} must be in [0, 1], got {factor}")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        if self.last_step == 0:
            return [v * self.start_factor for v in self._current()]
        slope = self.end_factor - self.start_factor
        previous_factor = self.start_factor + slope * (self.last_step - 1) / self.total_iters
        ratio = 1.0 + slope / (self.total_iters * previous_factor)
        return [v * ratio for v in self._current()]


class CosineAnnealingParamScheduler(ParamScheduler):
    """Half a cosine from the initial value down to ``eta_min`` (or initial * ``eta_min_ratio``)
    over ``T_max`` steps (default ``end - begin``)."""

    epoch_args = ("T_max",)

    def __init__(self, optimizer, param_name: str, T_max: int | None = None,
                 eta_min: float | None = None, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, eta_min_ratio: float | None = None):
        if eta_min is not None and eta_min_ratio is not None:
            raise ValueError(f"{type(self).__name__}: give eta_min or eta_min_ratio, not both")
        self.T_max = T_max or (end - begin)
        self.eta_min = 0.0 if eta_min is None and eta_min_ratio is None else eta_min
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _floor(self, base: float) -> float:
        return self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio

    def _get_value(self):
        t, period = self.last_step, self.T_max
        if t == 0:
            return self._current()
        if (t - 1 - period) % (2 * period) == 0:
            return [v + (base - self._floor(base)) * (1 - math.cos(math.pi / period)) / 2
                    for v, base in zip(self._current(), self.base_values)]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (v - self._floor(base)) + self._floor(base)
                for v, base in zip(self._current(), self.base_values)]


class PolyParamScheduler(ParamScheduler):
    """Polynomial decay to ``eta_min`` at ``end - 1`` with exponent ``power``."""

    def __init__(self, optimizer, param_name: str, eta_min: float = 0.0, power: float = 1.0,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True):
        self.eta_min, self.power = eta_min, power
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        if self.last_step == 0:
            return self._current()
        ratio = (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power
        return [(v - self.eta_min) * ratio + self.eta_min for v in self._current()]


class QuadraticWarmupParamScheduler(ParamScheduler):
    """Quadratic warm-up (YOLOX): value = initial * ((step + 1) / (end - begin)) ** 2."""

    def __init__(self, optimizer, param_name: str, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True):
        if end >= INF:
            raise ValueError(f"{type(self).__name__}: 'end' must be set (the warm-up length)")
        self.total_iters = end - begin
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _get_value(self):
        increments = [base * (2 * self.last_step + 1) / self.total_iters ** 2
                      for base in self.base_values]
        if self.last_step == 0:
            return increments
        return [v + inc for v, inc in zip(self._current(), increments)]


class OneCycleParamScheduler(ParamScheduler):
    """The 1cycle policy (as torch's OneCycleLR without momentum cycling): from
    ``eta_max / div_factor`` up to ``eta_max`` over ``pct_start`` of the cycle, then down to
    ``eta_max / div_factor / final_div_factor`` (``three_phase``: back to the start value
    first). Not chainable: it sets the values outright."""

    epoch_args = ("total_steps",)

    def __init__(self, optimizer, param_name: str, eta_max: float | Sequence[float],
                 total_steps: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True):
        self.total_steps = total_steps or (end - begin)
        if self.total_steps >= INF:
            raise ValueError(f"{type(self).__name__}: give total_steps or an 'end'")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{type(self).__name__}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{type(self).__name__}: anneal_strategy must be 'cos' or 'linear', "
                             f"got '{anneal_strategy}'")
        groups = optimizer.param_groups
        maxima = list(eta_max) if isinstance(eta_max, Sequence) else [eta_max] * len(groups)
        if len(maxima) != len(groups):
            raise ValueError(f"{type(self).__name__}: eta_max has {len(maxima)} values for "
                             f"{len(groups)} param groups")
        self.anneal_strategy = anneal_strategy
        self.starts = [m / div_factor for m in maxima]
        self.maxima = maxima
        self.minima = [s / final_div_factor for s in self.starts]
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self.phases = [(up_end, "starts", "maxima"),
                           (float(2 * pct_start * self.total_steps) - 2, "maxima", "starts"),
                           (self.total_steps - 1, "starts", "minima")]
        else:
            self.phases = [(up_end, "starts", "maxima"), (self.total_steps - 1, "maxima", "minima")]
        for group, start in zip(groups, self.starts):
            _set(group, param_name, start)
            group[f"initial_{param_name}"] = start
        if end >= INF:  # the cycle is over after total_steps
            end = begin + self.total_steps
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch)

    def _anneal(self, start: float, stop: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return stop + (start - stop) / 2 * (math.cos(math.pi * pct) + 1)
        return (stop - start) * pct + start

    def _get_value(self):
        t = self.last_step
        if t > self.total_steps:
            raise ValueError(f"{type(self).__name__}: stepped {t + 1} times for a cycle of "
                             f"{self.total_steps} steps")
        phase_start = 0.0
        for index, (phase_end, start_key, stop_key) in enumerate(self.phases):
            if t <= phase_end or index == len(self.phases) - 1:
                pct = (t - phase_start) / (phase_end - phase_start)
                return [self._anneal(a, b, pct)
                        for a, b in zip(getattr(self, start_key), getattr(self, stop_key))]
            phase_start = phase_end
        raise AssertionError("unreachable")


POLICIES = (ConstantParamScheduler, StepParamScheduler, MultiStepParamScheduler,
            ExponentialParamScheduler, LinearParamScheduler, CosineAnnealingParamScheduler,
            PolyParamScheduler, QuadraticWarmupParamScheduler, OneCycleParamScheduler)


def _bind(policy: type, param_name: str, suffix: str) -> type:
    """``policy`` with ``param_name`` fixed, named e.g. LinearLR or CosineAnnealingMomentum."""

    def __init__(self, optimizer, *args, **kwargs):
        policy.__init__(self, optimizer, param_name, *args, **kwargs)

    name = policy.__name__.replace("ParamScheduler", suffix)
    return type(name, (policy,), {
        "__init__": __init__, "__module__": __name__, "__qualname__": name,
        "__doc__": f"{policy.__name__} applied to '{param_name}'.\n\n{policy.__doc__}"})


LR_SCHEDULERS = {cls.__name__: cls for cls in (_bind(p, "lr", "LR") for p in POLICIES)}
MOMENTUM_SCHEDULERS = {cls.__name__: cls for cls in (_bind(p, "momentum", "Momentum")
                                                     for p in POLICIES if p is not OneCycleParamScheduler)}
globals().update(LR_SCHEDULERS)
globals().update(MOMENTUM_SCHEDULERS)

#: every scheduler by the name a config uses
ALL_SCHEDULERS = {**{p.__name__: p for p in POLICIES}, **LR_SCHEDULERS, **MOMENTUM_SCHEDULERS}
