"""DefaultOptimWrapperConstructor: per-parameter learning rates and weight decays.

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'backbone': dict(lr_mult=0.1)}))

Rules (MMEngine's): a parameter whose full name contains a ``custom_keys`` key gets
that key's ``lr_mult``/``decay_mult`` (and any other options it lists) and no other
rule; the longest matching key wins (ties: alphabetical). Otherwise ``bias_lr_mult``
applies to biases outside norm layers and deformable convs; weight decay is scaled by
``norm_decay_mult`` for norm layers, else ``bias_decay_mult`` for biases, else
``dwconv_decay_mult`` for depth-wise convs, else ``flat_decay_mult`` for 1-D
parameters; ``dcn_offset_lr_mult`` scales the lr of deformable-conv offset layers.
Parameters with the same settings share one param group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from detcore.registry import OPTIM_WRAPPERS, OPTIMIZERS
from detengine.config_errors import ConfigKeyError, building

PARAMWISE_OPTIONS = ("custom_keys", "bias_lr_mult", "bias_decay_mult", "norm_decay_mult",
                     "dwconv_decay_mult", "flat_decay_mult", "dcn_offset_lr_mult",
                     "bypass_duplicate")
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
              nn.GroupNorm, nn.LayerNorm)


def _is_deform_conv(module: nn.Module) -> bool:
    return "deform" in type(module).__name__.lower()


class DefaultOptimWrapperConstructor:
    """Build an optimizer wrapper for a model: ``constructor(model) -> OptimWrapper``."""

    def __init__(self, optim_wrapper_cfg: Mapping, paramwise_cfg: Mapping | None = None):
        cfg = dict(optim_wrapper_cfg)
        if "optimizer" not in cfg:
            raise ConfigKeyError("optim_wrapper.optimizer", "missing; say which optimizer to use, "
                                 "e.g. optimizer=dict(type='SGD', lr=0.02, momentum=0.9)")
        self.optimizer_cfg = dict(cfg.pop("optimizer"))
        cfg.setdefault("type", "OptimWrapper")
        self.wrapper_cfg = cfg
        self.paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(self.paramwise_cfg) - set(PARAMWISE_OPTIONS))
        if unknown:
            raise ConfigKeyError("optim_wrapper.paramwise_cfg",
                                 f"unknown option(s) {unknown}; known: {', '.join(PARAMWISE_OPTIONS)}")
        self.base_lr = self.optimizer_cfg.get("lr")
        self.base_wd = self.optimizer_cfg.get("weight_decay")
        custom_keys = self.paramwise_cfg.get("custom_keys", {})
        if not isinstance(custom_keys, Mapping):
            raise ConfigKeyError("optim_wrapper.paramwise_cfg.custom_keys",
                                 f"must be a dict of name -> options, got {type(custom_keys).__name__}")
        if self.paramwise_cfg and self.base_lr is None:
            raise ConfigKeyError("optim_wrapper.optimizer.lr",
                                 "needed as the base of the paramwise_cfg multipliers")
        # longest key first, alphabetical among equals: the most specific key wins
        self.custom_keys = {k: dict(custom_keys[k]) for k in
                            sorted(sorted(custom_keys), key=len, reverse=True)}

    def __call__(self, model: nn.Module):
        params = self.param_groups(model) if self.paramwise_cfg else model.parameters()
        with building("optim_wrapper.optimizer"):
            optimizer = OPTIMIZERS.build({**self.optimizer_cfg, "params": params})
        with building("optim_wrapper"):
            return OPTIM_WRAPPERS.build(self.wrapper_cfg, default_args={"optimizer": optimizer})

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """The model's parameters grouped by their (lr, weight_decay, ...) settings."""
        groups: dict[tuple, dict[str, Any]] = {}
        seen: set[int] = set()
        modules = dict(model.named_modules())
        for module_name, module in modules.items():
            parent = modules.get(module_name.rpartition(".")[0]) if module_name else None
            for name, param in module.named_parameters(recurse=False):
                if id(param) in seen:  # shared parameters go in the first group that sees them
                    continue
                seen.add(id(param))
                full_name = f"{module_name}.{name}" if module_name else name
                options = (self._options(full_name, name, param, module, parent)
                           if param.requires_grad else {})
                key = tuple(sorted(options.items()))
                groups.setdefault(key, {"params": [], **options})["params"].append(param)
        return list(groups.values())

    def _options(self, full_name: str, name: str, param: nn.Parameter, module: nn.Module,
                 parent: nn.Module | None) -> dict[str, Any]:
        for key, custom in self.custom_keys.items():
            if key in full_name:
                options = {k: v for k, v in custom.items() if k not in ("lr_mult", "decay_mult")}
                options["lr"] = self.base_lr * custom.get("lr_mult", 1.0)
                if self.base_wd is not None:
                    options["weight_decay"] = self.base_wd * custom.get("decay_mult", 1.0)
                return options

        cfg = self.paramwise_cfg
        options: dict[str, Any] = {}
        is_norm = isinstance(module, NORM_TYPES)
        is_dcn = _is_deform_conv(module) or (parent is not None and _is_deform_conv(parent))
        is_dcn_offset = is_dcn and isinstance(module, nn.Conv2d) and "conv_offset" in full_name
        if name == "bias" and not (is_norm or is_dcn) and cfg.get("bias_lr_mult") is not None:
            options["lr"] = self.base_lr * cfg["bias_lr_mult"]
        if is_dcn_offset and cfg.get("dcn_offset_lr_mult") is not None:
            options["lr"] = self.base_lr * cfg["dcn_offset_lr_mult"]
        if self.base_wd is None:
            return options
        is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups
        if is_norm and cfg.get("norm_decay_mult") is not None:
            options["weight_decay"] = self.base_wd * cfg["norm_decay_mult"]
        elif name == "bias" and not is_dcn and cfg.get("bias_decay_mult") is not None:
            options["weight_decay"] = self.base_wd * cfg["bias_decay_mult"]
        elif is_dwconv and cfg.get("dwconv_decay_mult") is not None:
            options["weight_decay"] = self.base_wd * cfg["dwconv_decay_mult"]
        elif param.ndim == 1 and not is_dcn and cfg.get("flat_decay_mult") is not None:
            options["weight_decay"] = self.base_wd * cfg["flat_decay_mult"]
        return options


def build_optim_wrapper(model: nn.Module, cfg: Any):
    """An optimizer wrapper from the ``optim_wrapper`` config (or a built wrapper/optimizer).

    The config may name a ``constructor`` (an OPTIM_WRAPPERS entry, default
    DefaultOptimWrapperConstructor) and give ``paramwise_cfg``.
    """
    from torch.optim import Optimizer

    from detengine.optim.optim_wrapper import OptimWrapper

    if isinstance(cfg, OptimWrapper):
        return cfg
    if isinstance(cfg, Optimizer):
        return OptimWrapper(cfg)
    if not isinstance(cfg, Mapping):
        raise ConfigKeyError("optim_wrapper", f"expected a dict, got {type(cfg).__name__}")
    cfg = dict(cfg)
    constructor_type = cfg.pop("constructor", "DefaultOptimWrapperConstructor")
    paramwise_cfg = cfg.pop("paramwise_cfg", None)
    with building("optim_wrapper.constructor"):
        constructor = OPTIM_WRAPPERS.build({"type": constructor_type, "optim_wrapper_cfg": cfg,
                                            "paramwise_cfg": paramwise_cfg})
    return constructor(model)
