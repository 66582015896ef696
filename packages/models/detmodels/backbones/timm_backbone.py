"""TIMMBackbone: a timm model, by name, as a multi-scale backbone (needs ``pip install timm``).

Arguments follow MMPretrain's TIMMBackbone, which MMDetection's timm configs use; timm is
imported only when one is built. Nothing is downloaded: pretrained weights come from a local
file through ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (timm's own keys).
"""

from __future__ import annotations

import torch

from detmodels.bricks import BaseModule
from detmodels.bricks.pretrained import load_pretrained
from detmodels.bricks.weight_init import is_pretrained_cfg


class TIMMBackbone(BaseModule):
    """``timm.create_model(model_name, features_only=True, out_indices=..., **kwargs)``:
    (N, C, H, W) -> tuple of the feature maps timm returns.

    Args:
        model_name: a timm model name (``timm.list_models()``).
        features_only: must be True (a detector needs feature maps, not logits).
        pretrained: must be False (no model hub is reachable); use init_cfg Pretrained.
        in_channels: input channels (timm's ``in_chans``).
        kwargs: passed to timm (``out_indices``, ``output_stride``, ``drop_path_rate``...).

    Attributes:
        out_channels, strides: of each returned map (from timm's feature_info).
    """

    def __init__(self, model_name: str, features_only: bool = True, pretrained: bool = False,
                 in_channels: int = 3, init_cfg: dict | list[dict] | None = None, **kwargs):
        super().__init__(init_cfg)
        if pretrained:
            raise ValueError("TIMMBackbone: pretrained=True would download weights and no model "
                             "hub is reachable; pass a local file instead: "
                             "init_cfg=dict(type='Pretrained', checkpoint='/path/to/weights.pth')")
        if not features_only:
            raise ValueError("TIMMBackbone: features_only must be True for a detection backbone")
        try:
            import timm
        except ImportError as err:
            raise ImportError("TIMMBackbone needs timm: pip install timm") from err
        self.timm_model = timm.create_model(model_name, pretrained=False, features_only=True,
                                            in_chans=in_channels, **kwargs)
        self.out_channels = self.timm_model.feature_info.channels()
        self.strides = self.timm_model.feature_info.reduction()

    def init_weights(self) -> None:
        cfgs = self.init_cfg or []
        for cfg in [cfgs] if isinstance(cfgs, dict) else cfgs:
            if not is_pretrained_cfg(cfg):
                raise ValueError(f"TIMMBackbone: only a Pretrained init_cfg is supported (timm "
                                 f"initialises the model itself), got {cfg!r}")
            load_pretrained(self.timm_model, cfg["checkpoint"], prefix=cfg.get("prefix"))
        self._is_init = True

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.timm_model(x))
