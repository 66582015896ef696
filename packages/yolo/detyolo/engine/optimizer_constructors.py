"""YOLOv5's optimizer parameter groups and batch-size-scaled weight decay.

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=0.0005,
                       nesterov=True, batch_size_per_gpu=16),
        constructor='YOLOv5OptimizerConstructor')

Three groups, in this order (YOLOv5ParamSchedulerHook relies on it): 0 the weights
with weight decay, 1 the weights of norm layers without decay, 2 all biases without
decay (their warm-up starts from a high lr). Weight decay follows the total batch
size as YOLOv5's trainer does: with ``accumulate = max(round(64 / total), 1)``, it is
multiplied by ``total * accumulate / 64`` (1 up to a total of 64, linear above).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from torch import nn

from detcore.registry import OPTIM_WRAPPERS, OPTIMIZERS
from detengine import dist
from detengine.config_errors import ConfigKeyError, building
from detengine.model_steps import unwrap_model

logger = logging.getLogger(__name__)

PARAMWISE_OPTIONS = ("base_total_batch_size",)

#: every torch.nn normalisation layer (BatchNorm*, SyncBatchNorm, InstanceNorm*, GroupNorm,
#: LayerNorm, RMSNorm, ...), whose weights get no decay: Ultralytics' rule
NORM_TYPES = tuple(cls for name, cls in vars(nn).items() if "Norm" in name and isinstance(cls, type))


def scaled_weight_decay(weight_decay: float, total_batch_size: int,
                        base_total_batch_size: int = 64) -> float:
    """YOLOv5's weight decay for ``total_batch_size`` images per optimizer step."""
    accumulate = max(round(base_total_batch_size / total_batch_size), 1)
    return weight_decay * total_batch_size * accumulate / base_total_batch_size


class YOLOv5OptimizerConstructor:
    """Build an optimizer wrapper with YOLOv5's three parameter groups (see the module
    docstring): ``constructor(model) -> OptimWrapper``.

    Norm-layer weights, and every parameter of the module types named in
    ``no_decay_module_types``, go to group 1; parameters called ``bias`` to group 2;
    every other parameter to group 0, the only group with weight decay.

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config; its ``optimizer`` may hold
            ``batch_size_per_gpu``, the training batch size per process.
        paramwise_cfg: only ``base_total_batch_size`` (64), the batch size at which the
            weight decay is the configured one.
    """

    #: class names of modules whose parameters get no weight decay besides norm layers
    no_decay_module_types: Sequence[str] = ()

    def __init__(self, optim_wrapper_cfg: Mapping, paramwise_cfg: Mapping | None = None):
        owner = type(self).__name__
        cfg = dict(optim_wrapper_cfg)
        if "optimizer" not in cfg:
            raise ConfigKeyError("optim_wrapper.optimizer", "missing; e.g. optimizer=dict(type='SGD', "
                                 "lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True, "
                                 "batch_size_per_gpu=16)")
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - set(PARAMWISE_OPTIONS))
        if unknown:
            raise ConfigKeyError("optim_wrapper.paramwise_cfg",
                                 f"{owner} knows only {PARAMWISE_OPTIONS}, got {unknown}")
        self.base_total_batch_size = paramwise_cfg.get("base_total_batch_size", 64)
        self.optimizer_cfg = dict(cfg.pop("optimizer"))
        cfg.setdefault("type", "OptimWrapper")
        self.wrapper_cfg = cfg

    def weight_decay(self) -> float:
        """The configured weight decay, scaled to the total batch size when
        ``batch_size_per_gpu`` is given."""
        weight_decay = self.optimizer_cfg.get("weight_decay", 0.0)
        batch_size = self.optimizer_cfg.get("batch_size_per_gpu")
        if batch_size is None:
            return weight_decay
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigKeyError("optim_wrapper.optimizer.batch_size_per_gpu",
                                 f"must be a positive int, got {batch_size!r}")
        scaled = scaled_weight_decay(weight_decay, batch_size * dist.get_world_size(),
                                     self.base_total_batch_size)
        if scaled != weight_decay:
            logger.info("%s: weight_decay scaled to %g for a total batch size of %d",
                        type(self).__name__, scaled, batch_size * dist.get_world_size())
        return scaled

    def param_groups(self, model: nn.Module) -> list[dict]:
        """[decayed weights, no-decay weights, biases] of ``model``, each parameter once."""
        decayed, undecayed, biases = [], [], []
        seen: set[int] = set()
        for module in unwrap_model(model).modules():
            no_decay = (isinstance(module, NORM_TYPES)
                        or type(module).__name__ in self.no_decay_module_types)
            for name, param in module.named_parameters(recurse=False):
                if id(param) in seen:
                    continue
                seen.add(id(param))
                if name == "bias":
                    biases.append(param)
                elif no_decay:
                    undecayed.append(param)
                else:
                    decayed.append(param)
        return [{"params": decayed, "weight_decay": self.weight_decay()},
                {"params": undecayed, "weight_decay": 0.0},
                {"params": biases, "weight_decay": 0.0}]

    def __call__(self, model: nn.Module):
        groups = self.param_groups(model)
        logger.info("%s: %d weights with decay, %d without, %d biases", type(self).__name__,
                    *(len(g["params"]) for g in groups))
        optimizer_cfg = {k: v for k, v in self.optimizer_cfg.items()
                         if k not in ("batch_size_per_gpu", "weight_decay")}
        with building("optim_wrapper.optimizer"):
            optimizer = OPTIMIZERS.build({**optimizer_cfg, "params": groups})
        with building("optim_wrapper"):
            return OPTIM_WRAPPERS.build(self.wrapper_cfg, default_args={"optimizer": optimizer})


class YOLOv7OptimWrapperConstructor(YOLOv5OptimizerConstructor):
    """YOLOv5's groups with YOLOv7's implicit-knowledge layers (ImplicitA, ImplicitM)
    also free of weight decay."""

    no_decay_module_types = ("ImplicitA", "ImplicitM")
