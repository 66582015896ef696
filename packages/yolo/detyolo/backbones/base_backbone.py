"""BaseBackbone: a stem and a table of stages, scaled by ``deepen_factor``/``widen_factor``
(MMYOLO's base class; YOLOv5/YOLOv8/YOLOX backbones only say how a stage is built)."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from detmodels.bricks import BaseModule


class BaseBackbone(BaseModule, metaclass=ABCMeta):
    """Runs ``stem``, ``stage1``, ``stage2``... and returns the outputs of ``out_indices``
    (0 is the stem), e.g. (2, 3, 4): strides 8, 16, 32.

    Args:
        arch_setting: one row per stage, read by :meth:`build_stage_layer`.
        frozen_stages: stem and stages up to this index get no gradient and stay in eval
            mode (-1: none).
        norm_eval: keep every BatchNorm in eval mode while training (frozen statistics).
    """

    def __init__(self, arch_setting: Sequence[Sequence], deepen_factor: float = 1.0,
                 widen_factor: float = 1.0, input_channels: int = 3,
                 out_indices: Sequence[int] = (2, 3, 4), frozen_stages: int = -1,
                 norm_cfg: dict | None = None, act_cfg: dict | None = None,
                 norm_eval: bool = False, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        num_layers = len(arch_setting) + 1
        if not set(out_indices) <= set(range(num_layers)):
            raise ValueError(f"{type(self).__name__}: out_indices {tuple(out_indices)} must be "
                             f"in 0..{num_layers - 1} (0 is the stem)")
        if frozen_stages not in range(-1, num_layers):
            raise ValueError(f"{type(self).__name__}: frozen_stages must be in -1..{num_layers - 1}"
                             f", got {frozen_stages}")
        self.arch_setting = [list(row) for row in arch_setting]
        self.deepen_factor = deepen_factor
        self.widen_factor = widen_factor
        self.input_channels = input_channels
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval

        self.stem = self.build_stem_layer()
        self.layers = ["stem"]
        for index, setting in enumerate(self.arch_setting):
            self.add_module(f"stage{index + 1}",
                            nn.Sequential(*self.build_stage_layer(index, setting)))
            self.layers.append(f"stage{index + 1}")

    @abstractmethod
    def build_stem_layer(self) -> nn.Module:
        """The first layer (stride 2)."""

    @abstractmethod
    def build_stage_layer(self, stage_idx: int, setting: list) -> list[nn.Module]:
        """The layers of stage ``stage_idx`` from its row of the architecture table."""

    def init_weights(self) -> None:
        """Without an init_cfg, every conv gets PyTorch's default initialisation, as in
        MMYOLO and Ultralytics (ConvModule's Kaiming init is undone)."""
        if self.init_cfg is None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    module.reset_parameters()
            self._is_init = True
        else:
            super().init_weights()

    def _freeze_stages(self) -> None:
        for name in self.layers[:self.frozen_stages + 1]:
            layer = getattr(self, name)
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> BaseBackbone:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        outs = []
        for index, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
