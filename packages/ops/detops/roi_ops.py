"""RoI Align and RoI Pool: torchvision's functions, MMCV's max mode for RoI Align, and
MMCV-style nn.Module wrappers (``RoIAlign``, ``RoIPool``) for RoI heads.

RoIs are a (K, 5) tensor of [batch_index, x1, y1, x2, y2] in image pixels, or a list with one
(Ki, 4) xyxy tensor per image; ``spatial_scale`` maps them onto the feature map (1 / stride).
The compiled kernels run forward and backward in one pass each; float16/bfloat16 inputs are
computed in float32 and the result cast back. Without them, the tensor code below gives the
same numbers (and autograd gives the gradients).

Export: torch.export captures the compiled operators; ONNX export (opset >= 16) writes
roi_align as RoiAlign and roi_pool as MaxRoiPool, and MMCV's max mode as tensor code (which
needs a fixed sampling_ratio).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from detops import _backend
from detops._validation import check_choice, check_same_device, check_tensor, compute_dtype

_POOL_MODES = ("avg", "max")


def roi_align(input: Tensor, boxes: Tensor | Sequence[Tensor], output_size: int | Sequence[int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False,
              pool_mode: str = "avg") -> Tensor:
    """RoI Align (Mask R-CNN), as torchvision.ops.roi_align plus MMCV's ``pool_mode``.

    Args:
        input: (N, C, H, W) contiguous features.
        boxes: (K, 5) [batch_index, x1, y1, x2, y2], or a list of N (Ki, 4) xyxy tensors.
        output_size: bins per RoI, int or (PH, PW).
        spatial_scale: factor from box coordinates to feature-map pixels.
        sampling_ratio: samples per bin along each axis; <= 0 takes ceil(RoI size / output
            size) per RoI, as torchvision does.
        aligned: shift boxes by -0.5 pixel so that samples sit on pixel centres (detectron2);
            False keeps the legacy behaviour, which also forces RoIs to at least 1x1.
        pool_mode: 'avg' averages a bin's bilinear samples, 'max' keeps the largest.

    Returns:
        (K, C, PH, PW) pooled features.
    """
    rois = _rois_of(input, boxes, "roi_align")
    pooled_h, pooled_w = _pair("output_size", output_size)
    check_choice("pool_mode", pool_mode, _POOL_MODES)
    if not isinstance(sampling_ratio, int):
        raise TypeError(f"sampling_ratio must be an int, got {type(sampling_ratio).__name__}")
    max_pool = pool_mode == "max"
    # ONNX's RoiAlign has no equivalent of MMCV's max mode: that exports as tensor code, which
    # bakes the grid size of the example input into the graph unless the grid is fixed
    exporting_max = max_pool and torch.onnx.is_in_onnx_export()
    if exporting_max and sampling_ratio <= 0:
        raise ValueError("roi_align with pool_mode='max' exports to ONNX only with a fixed "
                         f"sampling_ratio > 0, got {sampling_ratio}")
    if not exporting_max and _backend.use_kernel("roi_align", input, rois):
        output, _ = torch.ops.detops.roi_align(input, rois, float(spatial_scale), pooled_h,
                                               pooled_w, sampling_ratio, bool(aligned), max_pool)
        return output
    dtype = compute_dtype(input.dtype)
    return _roi_align_torch(input.to(dtype), rois.to(dtype), float(spatial_scale), pooled_h,
                            pooled_w, sampling_ratio, bool(aligned), max_pool).to(input.dtype)


def roi_pool(input: Tensor, boxes: Tensor | Sequence[Tensor], output_size: int | Sequence[int],
             spatial_scale: float = 1.0) -> Tensor:
    """RoI Pool (Fast R-CNN), as torchvision.ops.roi_pool: each RoI is snapped to whole
    feature-map pixels and split into bins that keep their maximum (0 for an empty bin).

    Args:
        input: (N, C, H, W) contiguous features.
        boxes: (K, 5) [batch_index, x1, y1, x2, y2], or a list of N (Ki, 4) xyxy tensors.
        output_size: bins per RoI, int or (PH, PW).
        spatial_scale: factor from box coordinates to feature-map pixels.

    Returns:
        (K, C, PH, PW) pooled features.
    """
    rois = _rois_of(input, boxes, "roi_pool")
    pooled_h, pooled_w = _pair("output_size", output_size)
    if _backend.use_kernel("roi_pool", input, rois):
        output, _ = torch.ops.detops.roi_pool(input, rois, float(spatial_scale), pooled_h,
                                              pooled_w)
        return output
    dtype = compute_dtype(input.dtype)
    return _roi_pool_torch(input.to(dtype), rois.to(dtype), float(spatial_scale), pooled_h,
                           pooled_w).to(input.dtype)


class RoIAlign(nn.Module):
    """RoI Align layer with MMCV's arguments (``mmcv.ops.RoIAlign``).

    ``sampling_ratio=0`` samples adaptively; ``use_torchvision=True`` runs
    torchvision.ops.roi_align instead (average pooling only). forward(input (N, C, H, W),
    rois (K, 5)) -> (K, C, PH, PW).
    """

    def __init__(self, output_size: int | Sequence[int], spatial_scale: float = 1.0,
                 sampling_ratio: int = 0, pool_mode: str = "avg", aligned: bool = True,
                 use_torchvision: bool = False):
        super().__init__()
        check_choice("pool_mode", pool_mode, _POOL_MODES)
        if use_torchvision and pool_mode != "avg":
            raise ValueError("use_torchvision=True supports pool_mode='avg' only, got "
                             f"{pool_mode!r}")
        self.output_size = _pair("output_size", output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.use_torchvision = use_torchvision

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        if self.use_torchvision:
            from torchvision.ops import roi_align as torchvision_roi_align

            return torchvision_roi_align(input, rois, self.output_size, self.spatial_scale,
                                         self.sampling_ratio, self.aligned)
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned, self.pool_mode)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, pool_mode={self.pool_mode!r}, "
                f"aligned={self.aligned}, use_torchvision={self.use_torchvision}")


class RoIPool(nn.Module):
    """RoI Pool layer with MMCV's arguments (``mmcv.ops.RoIPool``).
    forward(input (N, C, H, W), rois (K, 5)) -> (K, C, PH, PW)."""

    def __init__(self, output_size: int | Sequence[int], spatial_scale: float = 1.0):
        super().__init__()
        self.output_size = _pair("output_size", output_size)
        self.spatial_scale = float(spatial_scale)

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


# ---------------------------------------------------------------------------------------------
# Input checks


def _pair(name: str, value) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return pair


def _rois_of(input: Tensor, boxes, op: str) -> Tensor:
    """Check ``input`` and turn ``boxes`` into a contiguous (K, 5) RoI tensor."""
    check_tensor("input", input, shape=(None, None, None, None), floating=True)
    if not input.is_contiguous():
        raise ValueError(f"{op}: input must be contiguous (N, C, H, W); call .contiguous() first")
    if isinstance(boxes, (list, tuple)):
        for i, b in enumerate(boxes):
            check_tensor(f"boxes[{i}]", b, shape=(None, 4), floating=True)
            check_same_device(input=input, **{f"boxes[{i}]": b})
        rois = _boxes_list_to_rois(boxes, input)
    else:
        check_tensor("boxes", boxes, shape=(None, 5), floating=True)
        check_same_device(input=input, boxes=boxes)
        rois = boxes
    if not rois.is_contiguous():
        raise ValueError(f"{op}: boxes must be contiguous; call .contiguous() first")
    if rois.shape[0] and not _tracing():
        if not bool(torch.isfinite(rois).all()):
            raise ValueError(f"{op}: boxes contain NaN or infinite values")
        index = rois[:, 0]
        if bool((index < 0).any()) or bool((index >= input.shape[0]).any()):
            raise ValueError(f"{op}: boxes[:, 0] must be batch indices in [0, {input.shape[0]}), "
                             f"got values in [{float(index.min())}, {float(index.max())}]")
    return rois


def _tracing() -> bool:
    """Whether a tracer (torch.compile, torch.export, ONNX export) is running, so that checks
    needing tensor values must be skipped."""
    return (torch.compiler.is_compiling() or torch.compiler.is_exporting()
            or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing())


def _boxes_list_to_rois(boxes: Sequence[Tensor], input: Tensor) -> Tensor:
    if not boxes:
        return input.new_zeros((0, 5))
    dtype = boxes[0].dtype
    index = torch.cat([torch.full((len(b), 1), float(i), dtype=dtype, device=b.device)
                       for i, b in enumerate(boxes)])
    return torch.cat([index, torch.cat([b.to(dtype) for b in boxes])], dim=1)


# ---------------------------------------------------------------------------------------------
# Pure-PyTorch implementations (used without compiled kernels; autograd gives the backward)


def _axis_samples(pos: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """torchvision's bilinear rule along one axis: positions more than a pixel outside the map
    read 0, the border band is clamped onto the edge pixels. Returns (low, high) indices and
    their weights, shaped like ``pos``."""
    inside = (pos >= -1) & (pos <= size)
    pos = pos.clamp(0, size)
    low = pos.floor().long().clamp(max=size - 1)
    at_edge = low >= size - 1
    high = torch.where(at_edge, low, low + 1)
    pos = torch.where(at_edge, low.to(pos.dtype), pos)
    w_high = (pos - low) * inside
    w_low = (1 - (pos - low)) * inside
    return low, high, w_low, w_high


def _roi_align_torch(input: Tensor, rois: Tensor, spatial_scale: float, pooled_h: int,
                     pooled_w: int, sampling_ratio: int, aligned: bool, max_pool: bool) -> Tensor:
    num_rois, channels = rois.shape[0], input.shape[1]
    height, width = input.shape[2:]
    if height == 0 or width == 0:
        return input.new_zeros((num_rois, channels, pooled_h, pooled_w))
    offset = 0.5 if aligned else 0.0
    batch_index = rois[:, 0].long()
    start = rois[:, 1:3] * spatial_scale - offset                    # (K, 2) x, y
    size = rois[:, 3:5] * spatial_scale - offset - start
    if not aligned:
        size = size.clamp(min=1.0)
    bin_size = size / size.new_tensor([pooled_w, pooled_h])           # (K, 2)
    if sampling_ratio > 0:
        grid = torch.full_like(bin_size, sampling_ratio, dtype=torch.long)
    else:
        grid = bin_size.ceil().clamp(min=0).long()
    grid_w, grid_h = grid[:, 0], grid[:, 1]
    max_h = max(int(grid_h.max()), 1) if num_rois else 1
    max_w = max(int(grid_w.max()), 1) if num_rois else 1

    def positions(axis: int, pooled: int, max_grid: int, grid_n: Tensor):
        # (K, pooled, max_grid) sample coordinates and which of them exist for each RoI
        steps = torch.arange(max_grid, device=input.device, dtype=input.dtype)
        bins = torch.arange(pooled, device=input.device, dtype=input.dtype)
        g = grid_n.clamp(min=1).to(input.dtype)[:, None, None]
        pos = (start[:, axis, None, None] + bins[None, :, None] * bin_size[:, axis, None, None]
               + (steps[None, None, :] + 0.5) * bin_size[:, axis, None, None] / g)
        return pos, (steps[None, :] < grid_n[:, None])               # (K, P, G), (K, G)

    y, y_valid = positions(1, pooled_h, max_h, grid_h)
    x, x_valid = positions(0, pooled_w, max_w, grid_w)
    y_low, y_high, wy_low, wy_high = _axis_samples(y, height)
    x_low, x_high, wx_low, wx_high = _axis_samples(x, width)

    def gather(rows: Tensor, cols: Tensor) -> Tensor:
        # (K, PH, GH, PW, GW, C) values at (rows[k, ph, iy], cols[k, pw, ix])
        return input[batch_index[:, None, None, None, None], :, rows[:, :, :, None, None],
                     cols[:, None, None, :, :]]

    def weight(wy: Tensor, wx: Tensor) -> Tensor:
        return (wy[:, :, :, None, None] * wx[:, None, None, :, :])[..., None]

    samples = (weight(wy_low, wx_low) * gather(y_low, x_low)
               + weight(wy_low, wx_high) * gather(y_low, x_high)
               + weight(wy_high, wx_low) * gather(y_high, x_low)
               + weight(wy_high, wx_high) * gather(y_high, x_high))
    exists = (y_valid[:, None, :, None, None] & x_valid[:, None, None, None, :])[..., None]
    samples = samples.permute(0, 5, 1, 3, 2, 4)                       # (K, C, PH, PW, GH, GW)
    exists = exists.permute(0, 5, 1, 3, 2, 4)
    if max_pool:
        masked = samples.masked_fill(~exists, float("-inf")).flatten(-2)
        pooled = masked.max(dim=-1).values
        return torch.where(torch.isinf(pooled) & (pooled < 0), torch.zeros_like(pooled), pooled)
    count = (grid_h * grid_w).clamp(min=1).to(input.dtype)[:, None, None, None]
    return (samples * exists).sum(dim=(-2, -1)) / count


def _round_half_away(value: Tensor) -> Tensor:
    """C's round(): halves go away from zero (torch.round rounds them to even)."""
    return value.sign() * (value.abs() + 0.5).floor()


def _roi_pool_torch(input: Tensor, rois: Tensor, spatial_scale: float, pooled_h: int,
                    pooled_w: int) -> Tensor:
    num_rois, channels = rois.shape[0], input.shape[1]
    height, width = input.shape[2:]
    if height == 0 or width == 0:
        return input.new_zeros((num_rois, channels, pooled_h, pooled_w))
    batch_index = rois[:, 0].long()
    corners = _round_half_away((rois[:, 1:] * spatial_scale).clamp(-1e9, 1e9)).long()

    def bin_ranges(start: Tensor, end: Tensor, pooled: int, size: int):
        # (K, pooled) half-open pixel ranges of the bins along one axis, clipped to the map
        bin_size = (end - start + 1).clamp(min=1).to(input.dtype)[:, None] / pooled
        steps = torch.arange(pooled, device=input.device, dtype=input.dtype)[None, :]
        lo = ((steps * bin_size).floor().long() + start[:, None]).clamp(0, size)
        hi = (((steps + 1) * bin_size).ceil().long() + start[:, None]).clamp(0, size)
        return lo, hi

    row_lo, row_hi = bin_ranges(corners[:, 1], corners[:, 3], pooled_h, height)
    col_lo, col_hi = bin_ranges(corners[:, 0], corners[:, 2], pooled_w, width)
    # every bin is read through a window as large as the largest bin, masked beyond its end
    win_h = max(int((row_hi - row_lo).max()), 1) if num_rois else 1
    win_w = max(int((col_hi - col_lo).max()), 1) if num_rois else 1
    rows = row_lo[:, :, None] + torch.arange(win_h, device=input.device)     # (K, PH, WH)
    cols = col_lo[:, :, None] + torch.arange(win_w, device=input.device)     # (K, PW, WW)
    row_ok, col_ok = rows < row_hi[:, :, None], cols < col_hi[:, :, None]
    values = input[batch_index[:, None, None, None, None], :,
                   rows.clamp(max=height - 1)[:, :, None, :, None],
                   cols.clamp(max=width - 1)[:, None, :, None, :]]  # (K, PH, PW, WH, WW, C)
    inside = (row_ok[:, :, None, :, None] & col_ok[:, None, :, None, :])[..., None]
    values = values.masked_fill(~inside, float("-inf")).permute(0, 5, 1, 2, 3, 4)
    pooled = values.flatten(-2).max(dim=-1).values                          # (K, C, PH, PW)
    empty = ((row_hi <= row_lo)[:, :, None] | (col_hi <= col_lo)[:, None, :])[:, None]
    return pooled.masked_fill(empty, 0.0)


# ---------------------------------------------------------------------------------------------
# Autograd, fake (meta) and ONNX implementations of the compiled operators


def _roi_align_setup(ctx, inputs, output):
    input, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned, max_pool = inputs
    ctx.save_for_backward(rois, output[1])
    ctx.input_shape = tuple(input.shape)
    ctx.params = (spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned, max_pool)


def _roi_align_backward(ctx, grad_output, _grad_argmax):
    rois, argmax = ctx.saved_tensors
    spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned, max_pool = ctx.params
    grad_input = torch.ops.detops.roi_align_backward(
        grad_output.contiguous(), rois, argmax, spatial_scale, pooled_h, pooled_w,
        *ctx.input_shape, sampling_ratio, aligned, max_pool)
    return grad_input, None, None, None, None, None, None, None


def _roi_pool_setup(ctx, inputs, output):
    input, rois = inputs[:2]
    ctx.save_for_backward(rois, output[1])
    ctx.input_shape = tuple(input.shape)


def _roi_pool_backward(ctx, grad_output, _grad_argmax):
    rois, argmax = ctx.saved_tensors
    grad_input = torch.ops.detops.roi_pool_backward(grad_output.contiguous(), rois, argmax,
                                                    *ctx.input_shape)
    return grad_input, None, None, None, None


def _roi_align_onnx(g, input, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned,
                    max_pool):
    """detops::roi_align (average mode) as ONNX RoiAlign (opset 16: coordinate_transformation_mode
    half_pixel is aligned=True, output_half_pixel the legacy mode); argmax has no ONNX output."""
    from torch.onnx import symbolic_helper

    def const(value, kind):
        return symbolic_helper._maybe_get_const(value, kind)

    def columns(*indices):
        return g.op("Gather", rois, g.op("Constant", value_t=torch.tensor(indices)), axis_i=1)

    batch_indices = g.op("Cast", symbolic_helper._squeeze_helper(g, columns(0), [1]),
                         to_i=torch.onnx.TensorProtoDataType.INT64)
    output = g.op("RoiAlign", input, columns(1, 2, 3, 4), batch_indices,
                  coordinate_transformation_mode_s="half_pixel" if const(aligned, "b")
                  else "output_half_pixel",
                  mode_s="avg", spatial_scale_f=const(spatial_scale, "f"),
                  output_height_i=const(pooled_h, "i"), output_width_i=const(pooled_w, "i"),
                  sampling_ratio_i=max(const(sampling_ratio, "i"), 0))
    return output, None


def _roi_pool_onnx(g, input, rois, spatial_scale, pooled_h, pooled_w):
    """detops::roi_pool as ONNX MaxRoiPool; argmax has no ONNX output."""
    from torch.onnx import symbolic_helper

    shape = (symbolic_helper._maybe_get_const(pooled_h, "i"),
             symbolic_helper._maybe_get_const(pooled_w, "i"))
    output = g.op("MaxRoiPool", input, rois, pooled_shape_i=shape,
                  spatial_scale_f=symbolic_helper._maybe_get_const(spatial_scale, "f"))
    return output, None


if _backend.has_op("roi_align"):
    torch.onnx.register_custom_op_symbolic("detops::roi_align", _roi_align_onnx, 16)
    _backend.ONNX_TRANSLATED.add("roi_align")

    @torch.library.register_fake("detops::roi_align")
    def _(input, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned, max_pool):
        shape = (rois.shape[0], input.shape[1], pooled_h, pooled_w)
        argmax_shape = shape if max_pool else (0,)
        return input.new_empty(shape), input.new_empty(argmax_shape, dtype=torch.int32)

    @torch.library.register_fake("detops::roi_align_backward")
    def _(grad_output, rois, argmax, spatial_scale, pooled_h, pooled_w, batch_size, channels,
          height, width, sampling_ratio, aligned, max_pool):
        return grad_output.new_empty((batch_size, channels, height, width))

    torch.library.register_autograd("detops::roi_align", _roi_align_backward,
                                    setup_context=_roi_align_setup)

if _backend.has_op("roi_pool"):
    torch.onnx.register_custom_op_symbolic("detops::roi_pool", _roi_pool_onnx, 11)
    _backend.ONNX_TRANSLATED.add("roi_pool")

    @torch.library.register_fake("detops::roi_pool")
    def _(input, rois, spatial_scale, pooled_h, pooled_w):
        shape = (rois.shape[0], input.shape[1], pooled_h, pooled_w)
        return input.new_empty(shape), input.new_empty(shape, dtype=torch.int32)

    @torch.library.register_fake("detops::roi_pool_backward")
    def _(grad_output, rois, argmax, batch_size, channels, height, width):
        return grad_output.new_empty((batch_size, channels, height, width))

    torch.library.register_autograd("detops::roi_pool", _roi_pool_backward,
                                    setup_context=_roi_pool_setup)
