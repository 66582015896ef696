"""Weight initialisation: the helpers (``normal_init``, ``kaiming_init``...) and the
``init_cfg`` initializers that ``BaseModule.init_weights`` applies.

An ``init_cfg`` is a dict (or a list of dicts) such as
``dict(type='Kaiming', layer='Conv2d')``: it initialises every sub-module whose class
(or a direct base class) is named in ``layer``; ``override=dict(name='fc_cls', ...)``
initialises the attribute ``fc_cls`` as a whole instead, with its own arguments or, when it
gives only ``name``, with those of the enclosing config. ``Pretrained`` loads a local
checkpoint (see ``detmodels.bricks.pretrained``). Semantics and defaults follow MMEngine's,
so MMDetection configs initialise identically.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from torch import nn

from .pretrained import load_pretrained


def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    if getattr(module, "weight", None) is not None:
        nn.init.constant_(module.weight, val)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1, bias: float = 0) -> None:
    if getattr(module, "weight", None) is not None:
        nn.init.normal_(module.weight, mean, std)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def trunc_normal_init(module: nn.Module, mean: float = 0, std: float = 1, a: float = -2,
                      b: float = 2, bias: float = 0) -> None:
    """Normal(mean, std) truncated to [a, b] (absolute bounds, as torch's trunc_normal_)."""
    if getattr(module, "weight", None) is not None:
        nn.init.trunc_normal_(module.weight, mean, std, a, b)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    if getattr(module, "weight", None) is not None:
        nn.init.uniform_(module.weight, a, b)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def _check_distribution(distribution: str) -> None:
    if distribution not in ("uniform", "normal"):
        raise ValueError(f"distribution must be 'uniform' or 'normal', got {distribution!r}")


def xavier_init(module: nn.Module, gain: float = 1, bias: float = 0,
                distribution: str = "normal") -> None:
    _check_distribution(distribution)
    if getattr(module, "weight", None) is not None:
        fill = nn.init.xavier_uniform_ if distribution == "uniform" else nn.init.xavier_normal_
        fill(module.weight, gain=gain)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def kaiming_init(module: nn.Module, a: float = 0, mode: str = "fan_out",
                 nonlinearity: str = "relu", bias: float = 0,
                 distribution: str = "normal") -> None:
    _check_distribution(distribution)
    if getattr(module, "weight", None) is not None:
        fill = nn.init.kaiming_uniform_ if distribution == "uniform" else nn.init.kaiming_normal_
        fill(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's "XavierFill": uniform Kaiming with a=1 over fan_in."""
    kaiming_init(module, a=1, mode="fan_in", nonlinearity="leaky_relu", bias=bias,
                 distribution="uniform")


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias b with sigmoid(b) = prior_prob (focal-loss heads start at that probability)."""
    return float(-math.log((1 - prior_prob) / prior_prob))


class BaseInit:
    """An initializer for the sub-modules whose class or direct base class is in ``layer``.

    ``bias_prob`` sets the bias to ``bias_init_with_prob(bias_prob)`` instead of ``bias``.
    When applied through ``override`` (``whole_module=True``) the named module itself is
    initialised, whatever its class.
    """

    def __init__(self, *, bias: float = 0, bias_prob: float | None = None,
                 layer: str | list[str] | None = None):
        if not isinstance(bias, (int, float)):
            raise TypeError(f"init_cfg: bias must be a number, got {type(bias).__name__}")
        if bias_prob is not None and not isinstance(bias_prob, float):
            raise TypeError(f"init_cfg: bias_prob must be a float, got {type(bias_prob).__name__}")
        if layer is not None and not isinstance(layer, (str, list)):
            raise TypeError(f"init_cfg: layer must be a str or a list of str, got {type(layer).__name__}")
        self.bias = bias_init_with_prob(bias_prob) if bias_prob is not None else bias
        self.layer = [layer] if isinstance(layer, str) else list(layer or [])
        self.whole_module = False

    def init_module(self, module: nn.Module) -> None:
        raise NotImplementedError

    def _selected(self, module: nn.Module) -> bool:
        names = {type(module).__name__, *(base.__name__ for base in type(module).__bases__)}
        return bool(names.intersection(self.layer))

    def __call__(self, module: nn.Module) -> None:
        if self.whole_module:
            module.apply(self.init_module)
        else:
            module.apply(lambda m: self.init_module(m) if self._selected(m) else None)


class ConstantInit(BaseInit):
    def __init__(self, val: float, **kwargs):
        super().__init__(**kwargs)
        self.val = val

    def init_module(self, module):
        constant_init(module, self.val, self.bias)


class XavierInit(BaseInit):
    def __init__(self, gain: float = 1, distribution: str = "normal", **kwargs):
        super().__init__(**kwargs)
        self.gain, self.distribution = gain, distribution

    def init_module(self, module):
        xavier_init(module, self.gain, self.bias, self.distribution)


class NormalInit(BaseInit):
    def __init__(self, mean: float = 0, std: float = 1, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std = mean, std

    def init_module(self, module):
        normal_init(module, self.mean, self.std, self.bias)


class TruncNormalInit(BaseInit):
    def __init__(self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std, self.a, self.b = mean, std, a, b

    def init_module(self, module):
        trunc_normal_init(module, self.mean, self.std, self.a, self.b, self.bias)


class UniformInit(BaseInit):
    def __init__(self, a: float = 0, b: float = 1, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b

    def init_module(self, module):
        uniform_init(module, self.a, self.b, self.bias)


class KaimingInit(BaseInit):
    def __init__(self, a: float = 0, mode: str = "fan_out", nonlinearity: str = "relu",
                 distribution: str = "normal", **kwargs):
        super().__init__(**kwargs)
        self.a, self.mode, self.nonlinearity, self.distribution = a, mode, nonlinearity, distribution

    def init_module(self, module):
        kaiming_init(module, self.a, self.mode, self.nonlinearity, self.bias, self.distribution)


class Caffe2XavierInit(KaimingInit):
    def __init__(self, **kwargs):
        super().__init__(a=1, mode="fan_in", nonlinearity="leaky_relu", distribution="uniform",
                         **kwargs)


class PretrainedInit:
    """Load a local checkpoint into the module (strict=False; mismatches are reported).

    ``prefix`` keeps only the keys under it, with the prefix removed (``'backbone.'`` loads
    a detector's backbone weights into a bare backbone).
    """

    def __init__(self, checkpoint: str, prefix: str | None = None, map_location: str = "cpu"):
        self.checkpoint, self.prefix, self.map_location = checkpoint, prefix, map_location
        self.whole_module = False

    def __call__(self, module: nn.Module) -> None:
        load_pretrained(module, self.checkpoint, prefix=self.prefix, map_location=self.map_location)


#: init_cfg ``type`` names, as MMEngine's WEIGHT_INITIALIZERS.
INITIALIZERS: dict[str, Callable[..., Callable[[nn.Module], None]]] = {
    "Constant": ConstantInit,
    "Xavier": XavierInit,
    "Normal": NormalInit,
    "TruncNormal": TruncNormalInit,
    "Uniform": UniformInit,
    "Kaiming": KaimingInit,
    "Caffe2Xavier": Caffe2XavierInit,
    "Pretrained": PretrainedInit,
}


def is_pretrained_cfg(cfg: dict) -> bool:
    return cfg.get("type") in ("Pretrained", PretrainedInit)


def _build_initializer(cfg: dict, whole_module: bool = False):
    args = dict(cfg)
    kind = args.pop("type", None)
    if kind is None:
        raise KeyError(f"init_cfg has no 'type' key: {cfg!r}")
    if isinstance(kind, str):
        if kind not in INITIALIZERS:
            raise KeyError(f"init_cfg type {kind!r} is unknown; known types: "
                           f"{', '.join(sorted(INITIALIZERS))}")
        kind = INITIALIZERS[kind]
    initializer = kind(**args)
    initializer.whole_module = whole_module
    return initializer


def _apply_overrides(module: nn.Module, overrides: dict | list, parent_args: dict) -> None:
    if not isinstance(overrides, (dict, list)):
        raise TypeError(f"init_cfg override must be a dict or a list of dicts, got "
                        f"{type(overrides).__name__}")
    for override in [overrides] if isinstance(overrides, dict) else overrides:
        args = copy.deepcopy(override)
        name = args.pop("name", None)
        if name is None:
            raise ValueError(f"init_cfg override must name the attribute it initialises "
                             f"(key 'name'), got {override!r}")
        if not args:
            args = dict(parent_args)
        elif "type" not in args:
            raise ValueError(f"init_cfg override {override!r} gives arguments but no 'type'")
        if not hasattr(module, name):
            raise RuntimeError(f"init_cfg override names '{name}', which {type(module).__name__} "
                               f"does not have")
        _build_initializer(args, whole_module=True)(getattr(module, name))


def initialize(module: nn.Module, init_cfg: dict | list[dict]) -> None:
    """Apply one init_cfg dict or a list of them to ``module``, in order."""
    if not isinstance(init_cfg, (dict, list)):
        raise TypeError(f"init_cfg must be a dict or a list of dicts, got {type(init_cfg).__name__}")
    for cfg in [init_cfg] if isinstance(init_cfg, dict) else init_cfg:
        args = copy.deepcopy(cfg)
        overrides = args.pop("override", None)
        _build_initializer(args)(module)
        if overrides is not None:
            args.pop("layer", None)
            _apply_overrides(module, overrides, args)
