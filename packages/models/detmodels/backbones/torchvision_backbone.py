"""TorchvisionBackbone: any convolutional torchvision classification model, by name, as a
multi-scale backbone.

The model is built with ``torchvision.models.get_model(name, weights=None)`` (nothing is
downloaded). Its stages are found by running a small probe image once: walking its modules
in execution order (descending into nn.Sequential containers), each stage ends at the last
module whose output has a given stride (4, 8, 16, 32...), and everything after the global
pooling is dropped. ``torchvision.models.feature_extraction`` then keeps only what the
requested stages need (no classifier).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchvision
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from detmodels.bricks import BaseModule
from detmodels.bricks.pretrained import load_pretrained
from detmodels.bricks.weight_init import is_pretrained_cfg

_PROBE_SIZE = 128
_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def _sequential_tree(module: nn.Module, graph_leaves: set[str], prefix: str = ""):
    """(qualified name, module) of every module reached through nested nn.Sequential
    containers, containers included; one that torchvision's tracer keeps whole (one of
    ``graph_leaves``) is not entered."""
    for name, child in module.named_children():
        qualified = f"{prefix}{name}"
        yield qualified, child
        if isinstance(child, nn.Sequential) and qualified not in graph_leaves:
            yield from _sequential_tree(child, graph_leaves, qualified + ".")


def probe_stages(model: nn.Module, in_channels: int = 3,
                 size: int = _PROBE_SIZE) -> list[tuple[str, int, int]]:
    """``(module name, output stride, output channels)`` of the model's pieces in execution
    order, up to its global pooling.

    The pieces are its children, with an nn.Sequential split into its own children when it
    spans more than one stride doubling (ResNet's layer2 stays whole, a trunk holding every
    stage is opened). Only (N, C, H, W) outputs count.
    """
    graph_leaves = set(get_graph_node_names(model)[1])
    tree = dict(_sequential_tree(model, graph_leaves))
    strides: dict[str, tuple[int, int, int]] = {}  # name -> (input stride, output stride, channels)
    after_pool = []

    def hook(name, module):
        def record(_, inputs, output):
            if after_pool or isinstance(module, _GLOBAL_POOLS):
                after_pool.append(name)
            elif (name not in strides and isinstance(output, torch.Tensor) and output.dim() == 4
                  and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() == 4):
                strides[name] = (size // inputs[0].shape[-1], size // output.shape[-1], output.shape[1])
        return record

    handles = [m.register_forward_hook(hook(n, m)) for n, m in tree.items()]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, in_channels, size, size))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    def pieces(module, prefix=""):
        for name, child in module.named_children():
            qualified = f"{prefix}{name}"
            if qualified not in strides:
                continue
            in_stride, out_stride, _ = strides[qualified]
            if isinstance(child, nn.Sequential) and qualified not in graph_leaves \
                    and out_stride > 2 * in_stride:
                yield from pieces(child, qualified + ".")
            else:
                yield qualified

    order = list(strides)
    return [(name, strides[name][1], strides[name][2])
            for name in sorted(pieces(model), key=order.index)]


class TorchvisionBackbone(BaseModule):
    """A torchvision model as a backbone: (N, C, H, W) -> tuple of stage outputs.

    Args:
        model_name: a name from ``torchvision.models.list_models()`` ('resnet50',
            'mobilenet_v3_large', 'efficientnet_b0', 'convnext_tiny', 'regnet_x_1_6gf'...).
        out_indices: which stages to return; stage i has stride 4 * 2**i.
        return_nodes: module names to return instead of the detected stages (e.g. for a
            dilated ResNet whose last stages share a stride: ['layer2', 'layer3', 'layer4']).
        frozen_stages: freeze everything up to the end of stage ``frozen_stages - 1``
            (0: the part before stage 0; -1: nothing).
        norm_eval: keep BatchNorms in eval mode while training.
        in_channels: channels of the input image.
        model_kwargs: passed to the torchvision builder (e.g. norm_layer,
            replace_stride_with_dilation).
        init_cfg: None keeps torchvision's initialisation; dict(type='Pretrained',
            checkpoint=PATH) loads a torchvision checkpoint file (its keys, as saved by
            torchvision) into the model.

    Attributes:
        out_channels: channels of each returned output; strides: their strides.
    """

    def __init__(self, model_name: str, out_indices: Sequence[int] = (0, 1, 2, 3),
                 return_nodes: Sequence[str] | None = None, frozen_stages: int = -1,
                 norm_eval: bool = False, in_channels: int = 3, model_kwargs: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if model_name not in torchvision.models.list_models():
            raise KeyError(f"TorchvisionBackbone: torchvision has no model {model_name!r}; see "
                           f"torchvision.models.list_models()")
        model = torchvision.models.get_model(model_name, weights=None, **(model_kwargs or {}))
        outputs = probe_stages(model, in_channels)
        stages = self._stage_ends(outputs)
        if return_nodes is None:
            if max(out_indices) >= len(stages):
                raise ValueError(f"TorchvisionBackbone: {model_name} has {len(stages)} stages "
                                 f"(strides {[s for _, s, _ in stages]}); out_indices "
                                 f"{tuple(out_indices)} is out of range")
            selected = [stages[i] for i in out_indices]
        else:
            found = {name: (name, s, c) for name, s, c in outputs}
            unknown = [n for n in return_nodes if n not in found]
            if unknown:
                raise ValueError(f"TorchvisionBackbone: {unknown} are not module outputs of "
                                 f"{model_name}; candidates: {list(found)}")
            selected = [found[n] for n in return_nodes]
        self.model_name, self.norm_eval = model_name, norm_eval
        self.return_nodes = [name for name, _, _ in selected]
        self.strides = [stride for _, stride, _ in selected]
        self.out_channels = [channels for _, _, channels in selected]
        self.body = create_feature_extractor(
            model, return_nodes={name: str(i) for i, name in enumerate(self.return_nodes)})
        self._frozen = self._frozen_prefixes(outputs, stages, frozen_stages)
        self._freeze()

    @staticmethod
    def _stage_ends(outputs: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """The last module output at each stride >= 4."""
        ends: dict[int, tuple[str, int, int]] = {}
        for record in outputs:
            if record[1] >= 4:
                ends[record[1]] = record
        return [ends[stride] for stride in sorted(ends)]

    @staticmethod
    def _frozen_prefixes(outputs, stages, frozen_stages: int) -> list[str]:
        if frozen_stages < 0:
            return []
        if frozen_stages == 0:
            return [name for name, stride, _ in outputs if stride < 4]
        last = stages[min(frozen_stages, len(stages)) - 1][0]
        names = [name for name, _, _ in outputs]
        return names[:names.index(last) + 1]

    def _freeze(self) -> None:
        for name, module in self.body.named_modules():
            if any(name == p or name.startswith(p + ".") for p in self._frozen):
                module.eval()
                for param in module.parameters(recurse=False):
                    param.requires_grad = False

    def init_weights(self) -> None:
        cfgs = self.init_cfg or []
        for cfg in [cfgs] if isinstance(cfgs, dict) else cfgs:
            if not is_pretrained_cfg(cfg):
                raise ValueError(f"TorchvisionBackbone: only a Pretrained init_cfg is supported "
                                 f"(torchvision initialises the model itself), got {cfg!r}")
            load_pretrained(self.body, cfg["checkpoint"], prefix=cfg.get("prefix"))
        self._is_init = True

    def train(self, mode: bool = True) -> TorchvisionBackbone:
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.body(x)
        return tuple(features[str(i)] for i in range(len(self.return_nodes)))
