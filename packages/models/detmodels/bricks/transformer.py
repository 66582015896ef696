"""Transformer bricks for vision backbones: the feed-forward block (FFN), patch embedding
and patch merging with "corner"/"same" adaptive padding. Sub-module names are MMCV's and
MMDetection's (``layers.0.0``, ``projection``, ``reduction``...) so Swin checkpoints map."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from .base_module import BaseModule
from .builders import build_activation_layer, build_conv_layer, build_dropout, build_norm_layer


class FFN(BaseModule):
    """Linear -> act -> dropout (num_fcs - 1 times), Linear -> dropout, plus the identity.

    (B, L, embed_dims) -> (B, L, embed_dims). ``dropout_layer`` (e.g. DropPath) applies to
    the branch before the residual sum; ``add_identity=False`` returns the branch alone.
    """

    def __init__(self, embed_dims: int = 256, feedforward_channels: int = 1024, num_fcs: int = 2,
                 act_cfg: dict = dict(type="ReLU", inplace=True),  # noqa: B006 - never mutated
                 ffn_drop: float = 0.0, dropout_layer: dict | None = None,
                 add_identity: bool = True, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if num_fcs < 2:
            raise ValueError(f"FFN: num_fcs must be at least 2, got {num_fcs}")
        self.embed_dims, self.feedforward_channels, self.num_fcs = embed_dims, feedforward_channels, num_fcs
        hidden = []
        in_channels = embed_dims
        for _ in range(num_fcs - 1):
            hidden.append(nn.Sequential(nn.Linear(in_channels, feedforward_channels),
                                        build_activation_layer(act_cfg), nn.Dropout(ffn_drop)))
            in_channels = feedforward_channels
        self.layers = nn.Sequential(*hidden, nn.Linear(feedforward_channels, embed_dims),
                                    nn.Dropout(ffn_drop))
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.dropout_layer(self.layers(x))
        if not self.add_identity:
            return out
        return (x if identity is None else identity) + out


class AdaptivePadding(nn.Module):
    """Pad (N, C, H, W) at the bottom/right ('corner') or on both sides ('same') so that a
    k/stride/dilation window covers every pixel: output size ceil(H / stride)."""

    def __init__(self, kernel_size: int | tuple[int, int] = 1, stride: int | tuple[int, int] = 1,
                 dilation: int | tuple[int, int] = 1, padding: str = "corner"):
        super().__init__()
        if padding not in ("same", "corner"):
            raise ValueError(f"AdaptivePadding: padding must be 'same' or 'corner', got {padding!r}")
        self.padding = padding
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)

    def get_pad_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        pads = []
        for size, k, s, d in zip(input_shape, self.kernel_size, self.stride, self.dilation):
            pads.append(max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0))
        return pads[0], pads[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self.get_pad_shape(x.shape[-2:])
        if pad_h == 0 and pad_w == 0:
            return x
        if self.padding == "corner":
            return F.pad(x, [0, pad_w, 0, pad_h])
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


def _padding_parts(padding, kernel_size, stride, dilation):
    """``(adaptive padding layer or None, padding of the conv/unfold itself)``."""
    if isinstance(padding, str):
        return AdaptivePadding(kernel_size, stride, dilation, padding), (0, 0)
    return None, _pair(padding)


class PatchEmbed(BaseModule):
    """Image to patch tokens: (N, C, H, W) -> ((N, Ho * Wo, embed_dims), (Ho, Wo)), by a
    convolution ``projection`` with kernel = stride = patch size, then an optional norm."""

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, conv_type: str = "Conv2d",
                 kernel_size: int = 16, stride: int | None = 16,
                 padding: int | tuple[int, int] | str = "corner", dilation: int = 1,
                 bias: bool = True, norm_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        stride = kernel_size if stride is None else stride
        self.adap_padding, conv_padding = _padding_parts(padding, kernel_size, stride, dilation)
        self.projection = build_conv_layer(dict(type=conv_type), in_channels=in_channels,
                                           out_channels=embed_dims, kernel_size=_pair(kernel_size),
                                           stride=_pair(stride), padding=conv_padding,
                                           dilation=_pair(dilation), bias=bias)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg is not None else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.adap_padding is not None:
            x = self.adap_padding(x)
        x = self.projection(x)
        out_size = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, out_size


class PatchMerging(BaseModule):
    """Merge each k x k neighbourhood of tokens into one: (N, H * W, C) ->
    ((N, Ho * Wo, out_channels), (Ho, Wo)) by unfolding, an optional norm over the k*k*C
    values, and a linear ``reduction``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 2,
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] | str = "corner",
                 dilation: int | tuple[int, int] = 1, bias: bool = False,
                 norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 - never mutated
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.in_channels, self.out_channels = in_channels, out_channels
        stride = stride or kernel_size
        self.adap_padding, unfold_padding = _padding_parts(padding, kernel_size, stride, dilation)
        self.sampler = nn.Unfold(kernel_size=_pair(kernel_size), dilation=_pair(dilation),
                                 padding=unfold_padding, stride=_pair(stride))
        sample_dim = math.prod(_pair(kernel_size)) * in_channels
        self.norm = build_norm_layer(norm_cfg, sample_dim)[1] if norm_cfg is not None else None
        self.reduction = nn.Linear(sample_dim, out_channels, bias=bias)

    def forward(self, x: torch.Tensor, input_size: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        batch, length, channels = x.shape
        height, width = input_size
        if length != height * width:
            raise ValueError(f"PatchMerging: {length} tokens do not form a {height}x{width} map")
        x = x.view(batch, height, width, channels).permute(0, 3, 1, 2)
        if self.adap_padding is not None:
            x = self.adap_padding(x)
            height, width = x.shape[-2:]
        x = self.sampler(x).transpose(1, 2)  # (N, Ho * Wo, k * k * C)
        out_size = tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip((height, width), self.sampler.padding, self.sampler.dilation,
                                        self.sampler.kernel_size, self.sampler.stride))
        if self.norm is not None:
            x = self.norm(x)
        return self.reduction(x), out_size
