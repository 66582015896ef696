"""Multi-scale deformable attention (Deformable DETR), with MMCV's function semantics.

Each query of each head reads ``num_points`` bilinear samples from each of ``num_levels``
feature maps, flattened into one ``value`` sequence, and sums them with its attention weights.
Locations are normalised to [0, 1] per level ((0, 0) the top-left corner of the map, (1, 1) the
bottom-right one); samples outside the map read zero, exactly as ``F.grid_sample`` with
``align_corners=False`` and zero padding, which is what the pure-PyTorch fallback uses.

torch.export captures the compiled operator. ONNX export runs the grid_sample code, which
fixes the level shapes of the example input in the graph (so export at the input size the
model will serve).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from detops import _backend
from detops._validation import check_same_device, check_tensor, compute_dtype


def multi_scale_deformable_attn(value: Tensor, value_spatial_shapes: Tensor,
                                value_level_start_index: Tensor, sampling_locations: Tensor,
                                attention_weights: Tensor, im2col_step: int = 64) -> Tensor:
    """Multi-scale deformable attention, as MMCV's MultiScaleDeformableAttnFunction.

    Args:
        value: (bs, num_keys, num_heads, channels), the levels' (H_l * W_l) pixels in a row.
        value_spatial_shapes: (num_levels, 2) int64 (H_l, W_l).
        value_level_start_index: (num_levels,) int64 offset of each level in ``num_keys``,
            i.e. [0, H_0 * W_0, H_0 * W_0 + H_1 * W_1, ...].
        sampling_locations: (bs, num_queries, num_heads, num_levels, num_points, 2) as (x, y)
            in [0, 1] relative to each level.
        attention_weights: (bs, num_queries, num_heads, num_levels, num_points).
        im2col_step: positive int; MMCV's CUDA kernel processes the batch in steps of this
            size. The kernels here take the whole batch at once, so it never changes the result
            and is only checked, for MMCV compatibility.

    Returns:
        (bs, num_queries, num_heads * channels).
    """
    _check_inputs(value, value_spatial_shapes, value_level_start_index, sampling_locations,
                  attention_weights, im2col_step)
    tensors = (value, value_spatial_shapes, value_level_start_index, sampling_locations,
               attention_weights)
    if _backend.use_kernel("ms_deform_attn", *tensors):
        return torch.ops.detops.ms_deform_attn(*tensors)
    dtype = compute_dtype(value.dtype)
    output = multi_scale_deformable_attn_pytorch(value.to(dtype), value_spatial_shapes,
                                                 sampling_locations.to(dtype),
                                                 attention_weights.to(dtype))
    return output.to(value.dtype)


def multi_scale_deformable_attn_pytorch(value: Tensor, value_spatial_shapes: Tensor,
                                        sampling_locations: Tensor,
                                        attention_weights: Tensor) -> Tensor:
    """The grid_sample formulation (MMCV's multi_scale_deformable_attn_pytorch): one
    F.grid_sample per level over (bs * num_heads) maps. Shapes as multi_scale_deformable_attn."""
    bs, _, num_heads, channels = value.shape
    _, num_queries, _, num_levels, num_points, _ = sampling_locations.shape
    shapes = [(int(h), int(w)) for h, w in value_spatial_shapes.tolist()]
    levels = value.split([h * w for h, w in shapes], dim=1)
    grids = 2 * sampling_locations - 1                                # grid_sample's [-1, 1]
    sampled = []
    for level, (h, w) in enumerate(shapes):
        # (bs * heads, channels, H, W) map and (bs * heads, queries, points, 2) grid
        level_map = levels[level].flatten(2).transpose(1, 2).reshape(bs * num_heads, channels, h, w)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(level_map, grid, mode="bilinear", padding_mode="zeros",
                                     align_corners=False))            # (bs * heads, C, Q, P)
    weights = attention_weights.transpose(1, 2).reshape(bs * num_heads, 1, num_queries,
                                                        num_levels * num_points)
    output = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)
    return output.view(bs, num_heads * channels, num_queries).transpose(1, 2).contiguous()


def _check_inputs(value, spatial_shapes, level_start_index, sampling_locations,
                  attention_weights, im2col_step) -> None:
    check_tensor("value", value, shape=(None, None, None, None), floating=True)
    check_tensor("value_spatial_shapes", spatial_shapes, shape=(None, 2), integer=True)
    num_levels = spatial_shapes.shape[0]
    check_tensor("value_level_start_index", level_start_index, shape=(num_levels,),
                 integer=True)
    bs, num_keys, num_heads, _ = value.shape
    check_tensor("sampling_locations", sampling_locations,
                 shape=(bs, None, num_heads, num_levels, None, 2), floating=True)
    check_tensor("attention_weights", attention_weights,
                 shape=tuple(sampling_locations.shape[:5]), floating=True)
    check_same_device(value=value, sampling_locations=sampling_locations,
                      attention_weights=attention_weights)
    for name, t in (("value", value), ("value_spatial_shapes", spatial_shapes),
                    ("value_level_start_index", level_start_index),
                    ("sampling_locations", sampling_locations),
                    ("attention_weights", attention_weights)):
        if not t.is_contiguous():
            raise ValueError(f"multi_scale_deformable_attn: {name} must be contiguous; call "
                             ".contiguous() first")
    if not isinstance(im2col_step, int) or im2col_step <= 0:
        raise ValueError(f"im2col_step must be a positive int, got {im2col_step!r}")
    if (torch.compiler.is_compiling() or torch.compiler.is_exporting()
            or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()):
        return  # the checks below need tensor values
    sizes = spatial_shapes.prod(dim=1)
    if bool((spatial_shapes < 0).any()) or int(sizes.sum()) != num_keys:
        raise ValueError(f"value has {num_keys} keys but value_spatial_shapes "
                         f"{spatial_shapes.tolist()} cover {int(sizes.sum())}")
    starts = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    if not torch.equal(level_start_index.to(starts), starts):
        raise ValueError(f"value_level_start_index must be {starts.tolist()} for these "
                         f"value_spatial_shapes, got {level_start_index.tolist()}")


# ---------------------------------------------------------------------------------------------
# Autograd and fake (meta) implementations of the compiled operators


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad_output):
    value, spatial_shapes, level_start_index, locations, weights = ctx.saved_tensors
    grad_value, grad_locations, grad_weights = torch.ops.detops.ms_deform_attn_backward(
        grad_output.contiguous(), value, spatial_shapes, level_start_index, locations, weights)
    return grad_value, None, None, grad_locations, grad_weights


if _backend.has_op("ms_deform_attn"):
    @torch.library.register_fake("detops::ms_deform_attn")
    def _(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
        bs, num_queries, num_heads = sampling_locations.shape[:3]
        return value.new_empty((bs, num_queries, num_heads * value.shape[3]))

    @torch.library.register_fake("detops::ms_deform_attn_backward")
    def _(grad_output, value, spatial_shapes, level_start_index, sampling_locations,
          attention_weights):
        return (torch.empty_like(value), torch.empty_like(sampling_locations),
                torch.empty_like(attention_weights))

    torch.library.register_autograd("detops::ms_deform_attn", _backward,
                                    setup_context=_setup_context)
