"""BaseModule: an nn.Module that initialises itself from ``init_cfg``.

``init_weights()`` applies the module's own ``init_cfg`` (other than Pretrained), then lets
every child with an ``init_weights`` initialise itself, and loads Pretrained weights last
so that nothing overwrites them; a module is initialised once. This is MMEngine's order,
so MMDetection configs produce the same initialisation.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

from torch import nn

from .weight_init import initialize, is_pretrained_cfg


class BaseModule(nn.Module):
    """nn.Module with ``init_cfg`` (a dict, a list of dicts, or None) and ``init_weights``."""

    def __init__(self, init_cfg: dict | list[dict] | None = None):
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    @property
    def is_init(self) -> bool:
        return self._is_init

    @is_init.setter
    def is_init(self, value: bool) -> None:
        self._is_init = value

    def init_weights(self) -> None:
        if self._is_init:
            warnings.warn(f"init_weights of {type(self).__name__} has been called more than once; "
                          f"ignored", stacklevel=2)
            return
        cfgs = self.init_cfg or []
        cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs)
        pretrained = [c for c in cfgs if is_pretrained_cfg(c)]
        others = [c for c in cfgs if not is_pretrained_cfg(c)]
        if others:
            initialize(self, others)
        for child in self.children():
            if hasattr(child, "init_weights") and not getattr(child, "is_init", False):
                child.init_weights()
        if pretrained:
            initialize(self, pretrained)
        self._is_init = True

    def __repr__(self) -> str:
        text = super().__repr__()
        return f"{text}\ninit_cfg={self.init_cfg}" if self.init_cfg else text


class Sequential(BaseModule, nn.Sequential):
    """nn.Sequential with ``init_cfg``."""

    def __init__(self, *modules: nn.Module, init_cfg: dict | list[dict] | None = None):
        BaseModule.__init__(self, init_cfg)
        nn.Sequential.__init__(self, *modules)


class ModuleList(BaseModule, nn.ModuleList):
    """nn.ModuleList with ``init_cfg``."""

    def __init__(self, modules: Iterable[nn.Module] | None = None,
                 init_cfg: dict | list[dict] | None = None):
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


class ModuleDict(BaseModule, nn.ModuleDict):
    """nn.ModuleDict with ``init_cfg``."""

    def __init__(self, modules: dict[str, nn.Module] | None = None,
                 init_cfg: dict | list[dict] | None = None):
        BaseModule.__init__(self, init_cfg)
        nn.ModuleDict.__init__(self, modules)
