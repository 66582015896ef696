"""SingleRoIExtractor: pool each RoI from the one FPN level that suits its size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ...bricks import BaseModule


def build_roi_layers(roi_layer: dict, featmap_strides: Sequence[int]) -> nn.ModuleList:
    """One RoI op per level (``spatial_scale = 1 / stride``); ``roi_layer['type']`` names a
    detops layer ('RoIAlign', 'RoIPool') or is the class itself."""
    cfg = dict(roi_layer)
    layer_type = cfg.pop("type")
    if isinstance(layer_type, str):
        import detops

        if not hasattr(detops, layer_type):
            raise ValueError(f"roi_layer type {layer_type!r} is not a detops layer "
                             f"(e.g. 'RoIAlign', 'RoIPool')")
        layer_type = getattr(detops, layer_type)
    return nn.ModuleList([layer_type(spatial_scale=1 / s, **cfg) for s in featmap_strides])


class SingleRoIExtractor(BaseModule):
    """Pool (K, C, h, w) features for (K, 5) ``[batch_idx, x1, y1, x2, y2]`` RoIs.

    A RoI of scale ``s = sqrt(w * h)`` goes to level ``floor(log2(s / finest_scale))``,
    clamped to the levels given (FPN paper's rule with k0 = 4 on P2..P5).
    """

    def __init__(self, roi_layer: dict, out_channels: int, featmap_strides: Sequence[int],
                 finest_scale: int = 56, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg=init_cfg)
        self.roi_layers = build_roi_layers(roi_layer, featmap_strides)
        self.out_channels = out_channels
        self.featmap_strides = list(featmap_strides)
        self.finest_scale = finest_scale

    @property
    def num_inputs(self) -> int:
        return len(self.featmap_strides)

    def map_roi_levels(self, rois: Tensor, num_levels: int) -> Tensor:
        """(K,) level index of each (K, 5) RoI."""
        scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
        levels = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return levels.clamp(min=0, max=num_levels - 1).long()

    @staticmethod
    def roi_rescale(rois: Tensor, scale_factor: float) -> Tensor:
        """Scale (K, 5) RoIs about their centres (context enlargement)."""
        centre = (rois[:, 1:3] + rois[:, 3:5]) * 0.5
        half = (rois[:, 3:5] - rois[:, 1:3]) * (0.5 * scale_factor)
        return torch.cat([rois[:, :1], centre - half, centre + half], dim=1)

    def forward(self, feats: Sequence[Tensor], rois: Tensor,
                roi_scale_factor: float | None = None) -> Tensor:
        rois = rois.type_as(feats[0])
        num_levels = len(feats)
        if num_levels == 1:
            if len(rois) == 0:
                return feats[0].new_zeros(0, self.out_channels, *self.roi_layers[0].output_size)
            return self.roi_layers[0](feats[0], rois)
        roi_feats = feats[0].new_zeros(rois.size(0), self.out_channels,
                                       *self.roi_layers[0].output_size)
        levels = self.map_roi_levels(rois, num_levels)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        for level, (feat, layer) in enumerate(zip(feats, self.roi_layers)):
            inds = (levels == level).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                roi_feats[inds] = layer(feat, rois[inds])
            else:
                # keep every level in the autograd graph (distributed training expects it)
                roi_feats = roi_feats + feat.sum() * 0.0
        return roi_feats
