"""Deformable convolution (DCNv1) and modulated deformable convolution (DCNv2).

``deform_conv2d`` has torchvision's signature and semantics: a mask makes it DCNv2. The offset
of kernel tap k = i * kw + j in offset group g is (dy, dx) = offset[:, 2 * (g * kh * kw + k) + (0, 1)],
the MMCV layout [y0, x0, y1, x1, ...]; samples are bilinear with zero padding. The nn.Module
wrappers carry MMCV's names (``deform_groups``, ``conv_offset``) so that MMDetection
checkpoints load unchanged.

The compiled kernels build the bilinear sampling plan once per image and offset group, fill a
column buffer from it in parallel, and finish with one matrix product per convolution group;
the backward pass produces the five gradients in one call. float16/bfloat16 are computed in
float32. Without the kernels, the tensor code below computes the same function; it is also
what ONNX export records (torch.export captures the compiled operator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from detops import _backend
from detops._validation import check_same_device, check_tensor, compute_dtype


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None,
                  stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                  dilation: int | Sequence[int] = 1, mask: Tensor | None = None) -> Tensor:
    """Deformable 2-D convolution, as torchvision.ops.deform_conv2d.

    Args:
        input: (N, Cin, H, W).
        offset: (N, 2 * G * kh * kw, Ho, Wo) sampling offsets in pixels, (dy, dx) per tap; G,
            the number of offset (deformable) groups, splits Cin into G parts.
        weight: (Cout, Cin / groups, kh, kw); ``groups`` is inferred from Cin.
        bias: (Cout,) or None.
        stride, padding, dilation: int or (h, w), as in nn.Conv2d.
        mask: (N, G * kh * kw, Ho, Wo) modulation scalars (DCNv2), or None (DCNv1).

    Returns:
        (N, Cout, Ho, Wo).
    """
    stride_hw, padding_hw, dilation_hw = (_positive_pair("stride", stride),
                                          _pair_of("padding", padding, minimum=0),
                                          _positive_pair("dilation", dilation))
    _check_inputs(input, offset, weight, bias, mask, stride_hw, padding_hw, dilation_hw)
    if _backend.use_kernel("deform_conv2d", *(t for t in (input, offset, weight, bias, mask)
                                              if t is not None)):
        return torch.ops.detops.deform_conv2d(input, weight, offset, mask, bias, *stride_hw,
                                              *padding_hw, *dilation_hw)
    dtype = compute_dtype(input.dtype)
    output = _deform_conv2d_torch(
        input.to(dtype), offset.to(dtype), weight.to(dtype),
        None if bias is None else bias.to(dtype), stride_hw, padding_hw, dilation_hw,
        None if mask is None else mask.to(dtype))
    return output.to(input.dtype)


class DeformConv2d(nn.Module):
    """Deformable convolution with MMCV's arguments (``mmcv.ops.DeformConv2d``).
    forward(x (N, Cin, H, W), offset (N, 2 * deform_groups * kh * kw, Ho, Wo))."""

    _modulated = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, deform_groups: int = 1,
                 bias: bool | None = None):
        super().__init__()
        if bias is None:  # MMCV: no bias for DCNv1, a bias for DCNv2
            bias = self._modulated
        for name, value, divisor in (("in_channels", in_channels, groups),
                                     ("out_channels", out_channels, groups),
                                     ("in_channels", in_channels, deform_groups)):
            if value % divisor:
                raise ValueError(f"{name} ({value}) must be divisible by "
                                 f"{'groups' if divisor == groups else 'deform_groups'} "
                                 f"({divisor})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _positive_pair("kernel_size", kernel_size)
        self.stride = _positive_pair("stride", stride)
        self.padding = _pair_of("padding", padding, minimum=0)
        self.dilation = _positive_pair("dilation", dilation)
        self.groups = groups
        self.deform_groups = deform_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """MMCV's initialisation: uniform in +-1 / sqrt(fan_in), zero bias."""
        fan_in = self.in_channels * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, offset: Tensor) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, deform_groups={self.deform_groups}, "
                f"bias={self.bias is not None}")


class ModulatedDeformConv2d(DeformConv2d):
    """Modulated deformable convolution (DCNv2) with MMCV's arguments
    (``mmcv.ops.ModulatedDeformConv2d``; bias on by default).
    forward(x, offset (N, 2 * deform_groups * kh * kw, Ho, Wo), mask (N, deform_groups * kh * kw, Ho, Wo))."""

    _modulated = True

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, mask)


class DeformConv2dPack(DeformConv2d):
    """DeformConv2d that predicts its own offsets from the input with a plain convolution,
    ``conv_offset``, initialised to zero (so it starts as an ordinary convolution).
    forward(x (N, Cin, H, W))."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_offset = _offset_conv(self, values_per_tap=2)
        self.init_offset()

    def init_offset(self) -> None:
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        return deform_conv2d(x, self.conv_offset(x), self.weight, self.bias, self.stride,
                             self.padding, self.dilation)


class ModulatedDeformConv2dPack(ModulatedDeformConv2d):
    """ModulatedDeformConv2d that predicts its offsets and masks with ``conv_offset``
    (3 * deform_groups * kh * kw channels: the dy/dx pairs, then the mask logits, as in MMCV),
    zero-initialised so it starts as a convolution with every mask at sigmoid(0) = 0.5.
    forward(x (N, Cin, H, W))."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_offset = _offset_conv(self, values_per_tap=3)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv_offset(x)
        taps = self.deform_groups * math.prod(self.kernel_size)
        # MMCV splits the prediction into (o1, o2, mask) chunks and offsets = cat(o1, o2)
        offset, mask = out[:, :2 * taps], out[:, 2 * taps:].sigmoid()
        return deform_conv2d(x, offset.contiguous(), self.weight, self.bias, self.stride,
                             self.padding, self.dilation, mask.contiguous())


def _offset_conv(layer: DeformConv2d, values_per_tap: int) -> nn.Conv2d:
    """The convolution a *Pack layer predicts its per-tap offsets (and masks) with; same
    geometry as the layer, so its output matches the layer's output size."""
    return nn.Conv2d(layer.in_channels,
                     values_per_tap * layer.deform_groups * math.prod(layer.kernel_size),
                     kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                     dilation=layer.dilation, bias=True)


# ---------------------------------------------------------------------------------------------
# Input checks


def _pair_of(name: str, value, minimum: int) -> tuple[int, int]:
    pair = _pair(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(pair)


def _positive_pair(name: str, value) -> tuple[int, int]:
    return _pair_of(name, value, minimum=1)


def _check_inputs(input, offset, weight, bias, mask, stride, padding, dilation) -> None:
    check_tensor("input", input, shape=(None, None, None, None), floating=True)
    check_tensor("offset", offset, shape=(None, None, None, None), floating=True)
    check_tensor("weight", weight, shape=(None, None, None, None), floating=True)
    if bias is not None:
        check_tensor("bias", bias, shape=(weight.shape[0],), floating=True)
    if mask is not None:
        check_tensor("mask", mask, shape=(None, None, None, None), floating=True)
    check_same_device(input=input, offset=offset, weight=weight, bias=bias, mask=mask)
    for name, t in (("input", input), ("offset", offset), ("weight", weight), ("bias", bias),
                    ("mask", mask)):
        if t is not None and not t.is_contiguous():
            raise ValueError(f"deform_conv2d: {name} must be contiguous; call .contiguous() first")
    batch, in_channels, height, width = input.shape
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    if group_channels == 0 or in_channels % group_channels:
        raise ValueError(f"deform_conv2d: input channels ({in_channels}) must be a multiple of "
                         f"weight.shape[1] ({group_channels})")
    groups = in_channels // group_channels
    if out_channels % groups:
        raise ValueError(f"deform_conv2d: weight.shape[0] ({out_channels}) must be divisible by "
                         f"groups ({groups} = input channels / weight.shape[1])")
    out_h = (height + 2 * padding[0] - dilation[0] * (kernel_h - 1) - 1) // stride[0] + 1
    out_w = (width + 2 * padding[1] - dilation[1] * (kernel_w - 1) - 1) // stride[1] + 1
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"deform_conv2d: the output would be empty: input {height}x{width}, "
                         f"kernel {kernel_h}x{kernel_w}, padding {padding}, dilation {dilation}")
    taps = kernel_h * kernel_w
    if offset.shape[1] == 0 or offset.shape[1] % (2 * taps):
        raise ValueError(f"deform_conv2d: offset.shape[1] ({offset.shape[1]}) must be a positive "
                         f"multiple of 2 * kh * kw = {2 * taps}")
    offset_groups = offset.shape[1] // (2 * taps)
    if in_channels % offset_groups:
        raise ValueError(f"deform_conv2d: input channels ({in_channels}) must be divisible by "
                         f"the offset groups ({offset_groups} = offset.shape[1] / (2 * kh * kw))")
    expected = (batch, 2 * offset_groups * taps, out_h, out_w)
    if tuple(offset.shape) != expected:
        raise ValueError(f"deform_conv2d: offset must have shape {expected}, got "
                         f"{tuple(offset.shape)}")
    if mask is not None and tuple(mask.shape) != (batch, offset_groups * taps, out_h, out_w):
        raise ValueError(f"deform_conv2d: mask must have shape "
                         f"{(batch, offset_groups * taps, out_h, out_w)}, got {tuple(mask.shape)}")


# ---------------------------------------------------------------------------------------------
# Pure-PyTorch implementation (used without compiled kernels; autograd gives the backward)


def _deform_conv2d_torch(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None,
                         stride: tuple[int, int], padding: tuple[int, int],
                         dilation: tuple[int, int], mask: Tensor | None) -> Tensor:
    batch, in_channels, height, width = input.shape
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    groups, taps = in_channels // group_channels, kernel_h * kernel_w
    offset_groups = offset.shape[1] // (2 * taps)
    out_h, out_w = offset.shape[2:]
    # sampling positions (N, G, K, Ho, Wo)
    offset = offset.view(batch, offset_groups, taps, 2, out_h, out_w)
    tap_y = (torch.arange(kernel_h, device=input.device) * dilation[0]).repeat_interleave(kernel_w)
    tap_x = (torch.arange(kernel_w, device=input.device) * dilation[1]).repeat(kernel_h)
    base_y = torch.arange(out_h, device=input.device) * stride[0] - padding[0]
    base_x = torch.arange(out_w, device=input.device) * stride[1] - padding[1]
    y = (tap_y[:, None, None] + base_y[None, :, None]).to(input.dtype) + offset[:, :, :, 0]
    x = (tap_x[:, None, None] + base_x[None, None, :]).to(input.dtype) + offset[:, :, :, 1]
    # bilinear sampling with zero padding; samples entirely outside the map read 0
    inside = (y > -1) & (y < height) & (x > -1) & (x < width)
    y0, x0 = y.floor(), x.floor()
    ly, lx = y - y0, x - x0
    y0, x0 = y0.long(), x0.long()
    planes = input.view(batch, offset_groups, in_channels // offset_groups, height * width)
    columns = 0
    for dy, dx, w in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx),
                      (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        valid = inside & (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)) * valid
        gathered = planes.gather(3, index.flatten(2)[:, :, None, :].expand(
            -1, -1, planes.shape[2], -1))                                   # (N, G, Cg, K*P)
        columns = columns + gathered * (w * valid).flatten(2)[:, :, None, :]
    if mask is not None:
        columns = columns * mask.view(batch, offset_groups, 1, taps * out_h * out_w)
    # rows c * K + k of (N, Cin * K, P), split by convolution group: one product per group
    columns = columns.view(batch, groups, group_channels * taps, out_h * out_w)
    output = weight.view(groups, out_channels // groups, group_channels * taps) @ columns
    output = output.view(batch, out_channels, out_h, out_w)
    if bias is not None:
        output = output + bias.view(1, -1, 1, 1)
    return output


# ---------------------------------------------------------------------------------------------
# Autograd and fake (meta) implementations of the compiled operators


def _setup_context(ctx, inputs, output):
    input, weight, offset, mask, bias = inputs[:5]
    ctx.save_for_backward(input, weight, offset, mask, bias)
    ctx.conv = inputs[5:]


def _backward(ctx, grad_output):
    input, weight, offset, mask, bias = ctx.saved_tensors
    grad_input, grad_weight, grad_offset, grad_mask, grad_bias = (
        torch.ops.detops.deform_conv2d_backward(grad_output.contiguous(), input, weight, offset,
                                                mask, bias, *ctx.conv))
    return (grad_input, grad_weight, grad_offset, grad_mask if mask is not None else None,
            grad_bias if bias is not None else None) + (None,) * len(ctx.conv)


if _backend.has_op("deform_conv2d"):
    @torch.library.register_fake("detops::deform_conv2d")
    def _(input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w, dilation_h,
          dilation_w):
        out_h = (input.shape[2] + 2 * pad_h - dilation_h * (weight.shape[2] - 1) - 1) // stride_h + 1
        out_w = (input.shape[3] + 2 * pad_w - dilation_w * (weight.shape[3] - 1) - 1) // stride_w + 1
        return input.new_empty((input.shape[0], weight.shape[0], out_h, out_w))

    @torch.library.register_fake("detops::deform_conv2d_backward")
    def _(grad_output, input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w,
          dilation_h, dilation_w):
        return (torch.empty_like(input), torch.empty_like(weight), torch.empty_like(offset),
                torch.empty_like(mask) if mask is not None else input.new_empty((0,)),
                bias.new_empty(bias.shape) if bias is not None else input.new_empty((0,)))

    torch.library.register_autograd("detops::deform_conv2d", _backward,
                                    setup_context=_setup_context)
