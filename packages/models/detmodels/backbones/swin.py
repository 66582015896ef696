"""Swin Transformer backbone (Swin-T/S/B/L by depths, heads and embed_dims), with
MMDetection's module names so its Swin checkpoints load as they are; ``convert_weights``
maps checkpoints of the original Swin repository.

Tokens attend within non-overlapping windows of ``window_size``; every second block shifts
the windows by half a window (with a mask so that tokens from opposite image borders, brought
together by the cyclic shift, do not attend to each other). Patch merging halves the
resolution and doubles the width between stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as checkpoint
from torch import nn
from torch.nn.modules.utils import _pair

from detmodels.bricks import (
    FFN,
    BaseModule,
    ModuleList,
    PatchEmbed,
    PatchMerging,
    build_dropout,
    build_norm_layer,
    constant_init,
    trunc_normal_init,
)
from detmodels.bricks.pretrained import load_state_dict_report, read_state_dict, select_prefix


def relative_position_index(window_size: tuple[int, int]) -> torch.Tensor:
    """(Wh*Ww, Wh*Ww) index into the (2Wh-1)(2Ww-1) bias table for each pair of window
    positions: (dy + Wh - 1) * (2Ww - 1) + (dx + Ww - 1)."""
    wh, ww = window_size
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N)
    return (rel[0] + wh - 1) * (2 * ww - 1) + (rel[1] + ww - 1)


class WindowMSA(BaseModule):
    """Multi-head self-attention within windows, with a learned relative position bias.

    forward(x (B * num_windows, Wh * Ww, C), mask (num_windows, N, N) or None) -> same shape.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: tuple[int, int],
                 qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.embed_dims, self.num_heads, self.window_size = embed_dims, num_heads, window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size[0] - 1) * (2 * window_size[1] - 1), num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def init_weights(self) -> None:
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, N, C / heads)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            num_windows = mask.shape[0]
            attn = attn.view(-1, num_windows, self.num_heads, tokens, tokens) + mask[None, :, None]
            attn = attn.view(-1, self.num_heads, tokens, tokens)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(batch, tokens, channels)
        return self.proj_drop(self.proj(x))


class ShiftWindowMSA(BaseModule):
    """Window attention over a (B, H * W, C) token map, windows shifted by ``shift_size``;
    the map is padded at the bottom/right to a multiple of the window."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int = 0,
                 qkv_bias: bool = True, qk_scale: float | None = None, attn_drop_rate: float = 0.0,
                 proj_drop_rate: float = 0.0,
                 dropout_layer: dict = dict(type="DropPath", drop_prob=0.0),  # noqa: B006 - never mutated
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(f"ShiftWindowMSA: shift_size must be in [0, window_size), got {shift_size}")
        self.window_size, self.shift_size = window_size, shift_size
        self.w_msa = WindowMSA(embed_dims, num_heads, _pair(window_size), qkv_bias, qk_scale,
                               attn_drop_rate, proj_drop_rate)
        self.drop = build_dropout(dropout_layer)

    def _partition(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B * H/ws * W/ws, ws * ws, C)."""
        batch, height, width, channels = x.shape
        ws = self.window_size
        x = x.view(batch, height // ws, ws, width // ws, ws, channels).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, ws * ws, channels)

    def _reverse(self, windows: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """(B * H/ws * W/ws, ws * ws, C) -> (B, H, W, C)."""
        ws = self.window_size
        x = windows.view(-1, height // ws, width // ws, ws, ws, windows.shape[-1])
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, windows.shape[-1])

    def _shift_mask(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """(num_windows, N, N): -100 between tokens of different regions of the rolled map."""
        def region(size):
            index = torch.arange(size, device=device)
            return (index >= size - self.window_size).long() + (index >= size - self.shift_size).long()

        ids = (region(height)[:, None] * 3 + region(width)[None, :]).float()
        windows = self._partition(ids[None, :, :, None]).squeeze(-1)  # (num_windows, N)
        different = windows[:, None, :] != windows[:, :, None]
        return torch.zeros(different.shape, device=device).masked_fill(different, -100.0)

    def forward(self, query: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        batch, length, channels = query.shape
        height, width = hw_shape
        if length != height * width:
            raise ValueError(f"ShiftWindowMSA: {length} tokens do not form a {height}x{width} map")
        ws = self.window_size
        x = query.view(batch, height, width, channels)
        x = F.pad(x, (0, 0, 0, (ws - width % ws) % ws, 0, (ws - height % ws) % ws))
        padded_h, padded_w = x.shape[1], x.shape[2]
        mask = None
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
            mask = self._shift_mask(padded_h, padded_w, query.device)
        x = self._reverse(self.w_msa(self._partition(x), mask=mask), padded_h, padded_w)
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        x = x[:, :height, :width].reshape(batch, height * width, channels)
        return self.drop(x)


class SwinBlock(BaseModule):
    """norm1 -> (shifted) window attention -> + identity; norm2 -> FFN -> + identity."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 window_size: int = 7, shift: bool = False, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0,
                 act_cfg: dict = dict(type="GELU"),  # noqa: B006 - never mutated
                 norm_cfg: dict = dict(type="LN"),  # noqa: B006 - never mutated
                 with_cp: bool = False, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.with_cp = with_cp
        drop_path = dict(type="DropPath", drop_prob=drop_path_rate)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size,
                                   shift_size=window_size // 2 if shift else 0, qkv_bias=qkv_bias,
                                   qk_scale=qk_scale, attn_drop_rate=attn_drop_rate,
                                   proj_drop_rate=drop_rate, dropout_layer=drop_path)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs=2, ffn_drop=drop_rate,
                       dropout_layer=drop_path, act_cfg=act_cfg, add_identity=True)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        def inner(x):
            x = x + self.attn(self.norm1(x), hw_shape)
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


class SwinBlockSequence(BaseModule):
    """One stage: ``depth`` blocks alternating plain and shifted windows, then an optional
    ``downsample`` (PatchMerging). forward returns (x after downsampling, its hw shape,
    x before, its hw shape)."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, depth: int,
                 window_size: int = 7, qkv_bias: bool = True, qk_scale: float | None = None,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float | Sequence[float] = 0.0, downsample: nn.Module | None = None,
                 act_cfg: dict = dict(type="GELU"),  # noqa: B006 - never mutated
                 norm_cfg: dict = dict(type="LN"),  # noqa: B006 - never mutated
                 with_cp: bool = False, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if isinstance(drop_path_rate, Sequence):
            if len(drop_path_rate) != depth:
                raise ValueError(f"SwinBlockSequence: {len(drop_path_rate)} drop path rates for "
                                 f"{depth} blocks")
            rates = list(drop_path_rate)
        else:
            rates = [drop_path_rate] * depth
        self.blocks = ModuleList([
            SwinBlock(embed_dims, num_heads, feedforward_channels, window_size, shift=i % 2 == 1,
                      qkv_bias=qkv_bias, qk_scale=qk_scale, drop_rate=drop_rate,
                      attn_drop_rate=attn_drop_rate, drop_path_rate=rates[i], act_cfg=act_cfg,
                      norm_cfg=norm_cfg, with_cp=with_cp)
            for i in range(depth)])
        self.downsample = downsample

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]):
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, down_shape = self.downsample(x, hw_shape)
        return x_down, down_shape, x, hw_shape


class SwinTransformer(BaseModule):
    """Swin Transformer: (N, C, H, W) -> list of (N, embed_dims * 2**i, H / 4 / 2**i, W / 4 / 2**i)
    for i in ``out_indices``, each through its own LayerNorm ``norm{i}``.

    Defaults are Swin-T (embed_dims 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7).
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` loads a local checkpoint: a
    detector's ('backbone.' keys), a bare backbone's, or with ``convert_weights=True`` one from
    the original Swin repository; bias tables of another window size are resized (bicubic).
    """

    def __init__(self, pretrain_img_size: int | tuple[int, int] = 224, in_channels: int = 3,
                 embed_dims: int = 96, patch_size: int = 4, window_size: int = 7,
                 mlp_ratio: int = 4, depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (3, 6, 12, 24), strides: Sequence[int] = (4, 2, 2, 2),
                 out_indices: Sequence[int] = (0, 1, 2, 3), qkv_bias: bool = True,
                 qk_scale: float | None = None, patch_norm: bool = True, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1,
                 use_abs_pos_embed: bool = False,
                 act_cfg: dict = dict(type="GELU"),  # noqa: B006 - never mutated
                 norm_cfg: dict = dict(type="LN"),  # noqa: B006 - never mutated
                 with_cp: bool = False, convert_weights: bool = False, frozen_stages: int = -1,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if init_cfg is not None and not (isinstance(init_cfg, dict) and init_cfg.get("type") == "Pretrained"):
            raise ValueError(f"SwinTransformer: init_cfg may only be dict(type='Pretrained', "
                             f"checkpoint=...), got {init_cfg!r}")
        if strides[0] != patch_size:
            raise ValueError(f"SwinTransformer: strides[0] ({strides[0]}) must equal patch_size "
                             f"({patch_size}): patches do not overlap")
        self.convert_weights, self.frozen_stages = convert_weights, frozen_stages
        self.out_indices, self.use_abs_pos_embed = out_indices, use_abs_pos_embed
        patch_norm_cfg = norm_cfg if patch_norm else None
        self.patch_embed = PatchEmbed(in_channels, embed_dims, conv_type="Conv2d",
                                      kernel_size=patch_size, stride=strides[0], norm_cfg=patch_norm_cfg)
        if use_abs_pos_embed:
            rows, cols = (size // patch_size for size in _pair(pretrain_img_size))
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, rows * cols, embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        channels = embed_dims
        for i, depth in enumerate(depths):
            downsample = None
            if i < len(depths) - 1:
                downsample = PatchMerging(channels, 2 * channels, stride=strides[i + 1],
                                          norm_cfg=patch_norm_cfg)
            self.stages.append(SwinBlockSequence(
                channels, num_heads[i], mlp_ratio * channels, depth, window_size, qkv_bias,
                qk_scale, drop_rate, attn_drop_rate, rates[sum(depths[:i]):sum(depths[:i + 1])],
                downsample, act_cfg, norm_cfg, with_cp))
            if downsample is not None:
                channels = downsample.out_channels
        self.num_features = [embed_dims * 2**i for i in range(len(depths))]
        for i in out_indices:
            self.add_module(f"norm{i}", build_norm_layer(norm_cfg, self.num_features[i])[1])
        self._freeze_stages()

    def init_weights(self) -> None:
        """From scratch: truncated-normal (std 0.02) linears and bias tables, unit LayerNorms;
        with a Pretrained init_cfg: load it (see the class docstring)."""
        if self.init_cfg is None:
            if self.use_abs_pos_embed:
                nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_init(m, std=0.02, bias=0.0)
                elif isinstance(m, nn.LayerNorm):
                    constant_init(m, 1.0)
                elif isinstance(m, WindowMSA):
                    m.init_weights()
            return
        checkpoint_path = self.init_cfg["checkpoint"]
        state_dict = read_state_dict(checkpoint_path)
        if self.convert_weights:
            state_dict = swin_converter(state_dict)
        prefix = self.init_cfg.get("prefix")
        if prefix is None and any(k.startswith("backbone.") for k in state_dict):
            prefix = "backbone."
        if prefix is not None:
            state_dict = select_prefix(state_dict, prefix, source=str(checkpoint_path))
        self._resize_bias_tables(state_dict)
        load_state_dict_report(self, state_dict, source=str(checkpoint_path))

    def _resize_bias_tables(self, state_dict: dict) -> None:
        own = self.state_dict()
        for key in [k for k in state_dict if "relative_position_bias_table" in k and k in own]:
            table, target = state_dict[key], own[key]
            if table.shape[1] != target.shape[1] or table.shape[0] == target.shape[0]:
                continue  # other head counts are reported as shape mismatches
            side, new_side = int(table.shape[0] ** 0.5), int(target.shape[0] ** 0.5)
            grid = table.permute(1, 0).reshape(1, -1, side, side)
            resized = F.interpolate(grid, size=(new_side, new_side), mode="bicubic")
            state_dict[key] = resized.view(-1, target.shape[0]).permute(1, 0).contiguous()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, self.drop_after_pos]
        for i in range(1, self.frozen_stages + 1):
            if i - 1 in self.out_indices:
                frozen.append(getattr(self, f"norm{i - 1}"))
            frozen.append(self.stages[i - 1])
        if self.use_abs_pos_embed:
            self.absolute_pos_embed.requires_grad = False
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> SwinTransformer:
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_shape = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(out)
                outs.append(out.view(-1, *out_shape, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return outs


def swin_converter(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys of the original Swin repository's checkpoints -> this backbone's, under
    'backbone.'. Patch-merging weights are reordered: the original concatenates the 2x2
    neighbours as (0,0), (1,0), (0,1), (1,1), nn.Unfold as (0,0), (0,1), (1,0), (1,1)."""
    def unfold_order_linear(w):
        out_ch, in_ch = w.shape
        return w.reshape(out_ch, 4, in_ch // 4)[:, [0, 2, 1, 3]].transpose(1, 2).reshape(out_ch, in_ch)

    def unfold_order_norm(w):
        return w.reshape(4, -1)[[0, 2, 1, 3]].transpose(0, 1).reshape(-1)

    converted = {}
    for key, value in state_dict.items():
        if key.startswith("head"):
            continue
        if key.startswith("layers"):
            if "attn." in key:
                key = key.replace("attn.", "attn.w_msa.")
            elif "mlp.fc1." in key:
                key = key.replace("mlp.fc1.", "ffn.layers.0.0.")
            elif "mlp.fc2." in key:
                key = key.replace("mlp.fc2.", "ffn.layers.1.")
            elif "downsample.reduction." in key:
                value = unfold_order_linear(value)
            elif "downsample.norm." in key:
                value = unfold_order_norm(value)
            key = key.replace("layers", "stages", 1)
        elif key.startswith("patch_embed"):
            key = key.replace("proj", "projection")
        converted["backbone." + key] = value
    return converted
