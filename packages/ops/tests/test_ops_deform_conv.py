"""detops.deform_conv against torchvision.ops.deform_conv2d (forward and the five gradients),
and the MMCV-style layers against plain convolutions (zero offsets); every test runs on the
compiled kernels and on the pure-PyTorch fallback."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from detops import _backend
from detops.deform_conv import (
    DeformConv2d,
    DeformConv2dPack,
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
    deform_conv2d,
)


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    if request.param == "compiled":
        if not _backend.has_kernel("deform_conv2d"):
            pytest.skip("compiled kernels are not built")
    else:
        monkeypatch.setattr(_backend, "use_kernel", lambda *args: False)
    return request.param


def conv_inputs(batch=2, in_channels=4, size=(7, 9), out_channels=6, kernel=(3, 3), groups=1,
                offset_groups=1, stride=(1, 1), padding=(1, 1), dilation=(1, 1), modulated=True,
                offset_scale=2.0, dtype=torch.float64, seed=0):
    """Random (input, offset, weight, bias, mask) for torchvision's argument order. Offsets of a
    few pixels send some samples off the map and across pixel boundaries."""
    g = torch.Generator().manual_seed(seed)
    height, width = size
    out_h = (height + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (width + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    taps = kernel[0] * kernel[1]
    x = torch.randn(batch, in_channels, height, width, generator=g, dtype=dtype)
    offset = torch.randn(batch, 2 * offset_groups * taps, out_h, out_w, generator=g,
                         dtype=dtype) * offset_scale
    weight = torch.randn(out_channels, in_channels // groups, *kernel, generator=g, dtype=dtype)
    bias = torch.randn(out_channels, generator=g, dtype=dtype)
    mask = (torch.rand(batch, offset_groups * taps, out_h, out_w, generator=g, dtype=dtype)
            if modulated else None)
    return x, offset, weight, bias, mask


CASES = {
    "dcn_v1": dict(modulated=False),
    "dcn_v2": dict(),
    "groups_and_offset_groups": dict(in_channels=8, out_channels=6, groups=2, offset_groups=4),
    "stride_dilation_rect_kernel": dict(kernel=(3, 2), stride=(2, 1), padding=(1, 2),
                                        dilation=(2, 1), size=(9, 8)),
    "1x1_no_padding": dict(kernel=(1, 1), padding=(0, 0), in_channels=6, groups=3,
                           offset_groups=3),
    "far_offsets": dict(offset_scale=8.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_deform_conv2d_matches_torchvision(backend, case):
    params = CASES[case]
    x, offset, weight, bias, mask = conv_inputs(**params)
    conv = dict(stride=params.get("stride", (1, 1)), padding=params.get("padding", (1, 1)),
                dilation=params.get("dilation", (1, 1)))
    ours_args = [t.clone().requires_grad_() if t is not None else None
                 for t in (x, offset, weight, bias, mask)]
    ref_args = [t.clone().requires_grad_() if t is not None else None
                for t in (x, offset, weight, bias, mask)]
    ours = deform_conv2d(*ours_args[:4], **conv, mask=ours_args[4])
    ref = torchvision.ops.deform_conv2d(*ref_args[:4], **conv, mask=ref_args[4])
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(5),
                           dtype=ref.dtype)
    ours.backward(grad_out)
    ref.backward(grad_out)
    for name, a, b in zip(("input", "offset", "weight", "bias", "mask"), ours_args, ref_args):
        if a is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-9, msg=name)


def test_deform_conv2d_float32_matches_torchvision(backend):
    x, offset, weight, bias, mask = conv_inputs(in_channels=8, out_channels=8, size=(12, 12),
                                                dtype=torch.float32)
    ours = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    ref = torchvision.ops.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_deform_conv2d_low_precision_matches_torchvision_in_float32(backend, dtype):
    x, offset, weight, bias, mask = (t.to(dtype) for t in conv_inputs(dtype=torch.float32))
    out = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    assert out.dtype == dtype
    ref = torchvision.ops.deform_conv2d(x.float(), offset.float(), weight.float(),
                                        bias.float(), padding=1, mask=mask.float())
    scale = ref.abs().max()
    tolerance = 2e-3 if dtype == torch.float16 else 2e-2
    torch.testing.assert_close(out.float() / scale, ref / scale, rtol=0, atol=tolerance)


def test_deform_conv2d_empty_batch(backend):
    x, offset, weight, bias, mask = conv_inputs(batch=0)
    x.requires_grad_()
    out = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    assert out.shape == (0, 6, 7, 9)
    out.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("modulated", [False, True])
def test_deform_conv2d_gradcheck(backend, modulated):
    x, offset, weight, bias, mask = conv_inputs(batch=1, in_channels=2, size=(4, 5),
                                                out_channels=2, offset_groups=2,
                                                modulated=modulated, offset_scale=1.3)
    inputs = tuple(t.requires_grad_() for t in (x, offset, weight, bias, mask) if t is not None)

    def conv(*tensors):
        x, offset, weight, bias, *mask = tensors
        return deform_conv2d(x, offset, weight, bias, padding=1, mask=mask[0] if mask else None)

    assert torch.autograd.gradcheck(conv, inputs, fast_mode=True)


# ------------------------------------------------------------------------------------- modules

def test_pack_layers_start_as_plain_convolutions(backend):
    """Zero-initialised conv_offset: no offsets, and masks of sigmoid(0) = 0.5 for DCNv2."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 9)
    layer = DeformConv2dPack(4, 6, 3, stride=2, padding=1, bias=True)
    expected = F.conv2d(x, layer.weight, layer.bias, stride=2, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    layer = ModulatedDeformConv2dPack(4, 6, 3, padding=2, dilation=2, deform_groups=2)
    expected = F.conv2d(x, layer.weight * 0.5, layer.bias, padding=2, dilation=2)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_layers_have_mmcv_parameter_names_and_shapes():
    layer = DeformConv2dPack(16, 32, 3, padding=1, deform_groups=2)
    assert set(dict(layer.named_parameters())) == {"weight", "conv_offset.weight",
                                                   "conv_offset.bias"}
    assert layer.conv_offset.weight.shape == (2 * 2 * 9, 16, 3, 3)
    layer = ModulatedDeformConv2dPack(16, 32, 3, padding=1, groups=2)
    assert set(dict(layer.named_parameters())) == {"weight", "bias", "conv_offset.weight",
                                                   "conv_offset.bias"}
    assert layer.weight.shape == (32, 8, 3, 3)
    assert layer.conv_offset.weight.shape == (3 * 9, 16, 3, 3)
    # MMCV's initialisation: uniform in +-1/sqrt(in_channels * kh * kw), zero bias
    assert float(layer.weight.detach().abs().max()) <= 1 / (16 * 9) ** 0.5
    assert torch.count_nonzero(layer.bias) == 0
    assert torch.count_nonzero(layer.conv_offset.weight) == 0


def test_layers_match_torchvision_with_given_offsets(backend):
    torch.manual_seed(0)
    x, offset, _, _, mask = conv_inputs(in_channels=4, offset_groups=2, dtype=torch.float32)
    layer = DeformConv2d(4, 6, 3, padding=1, deform_groups=2)
    torch.testing.assert_close(layer(x, offset), torchvision.ops.deform_conv2d(
        x, offset, layer.weight, padding=1), rtol=1e-5, atol=1e-5)
    layer = ModulatedDeformConv2d(4, 6, 3, padding=1, deform_groups=2)
    torch.testing.assert_close(layer(x, offset, mask), torchvision.ops.deform_conv2d(
        x, offset, layer.weight, layer.bias, padding=1, mask=mask), rtol=1e-5, atol=1e-5)


def test_layer_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=r"in_channels \(6\) must be divisible by groups \(4\)"):
        DeformConv2d(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match=r"in_channels \(6\) must be divisible by deform_groups"):
        DeformConv2d(6, 6, 3, deform_groups=4)


# ---------------------------------------------------------------------------------- bad inputs

def _replace(args, index, value):
    args = list(args)
    args[index] = value
    return args


@pytest.mark.parametrize("make_args,error,message", [
    (lambda a: _replace(a, 0, a[0][0]), ValueError, r"input must have shape \(N, M, K, L\)"),
    (lambda a: _replace(a, 0, a[0].long()), TypeError, "input must be a floating point tensor"),
    (lambda a: _replace(a, 1, a[1][:, :5].contiguous()), ValueError,
     r"offset.shape\[1\] \(5\) must be a positive multiple of 2 \* kh \* kw = 18"),
    (lambda a: _replace(a, 1, a[1][:, :, :3].contiguous()), ValueError,
     r"offset must have shape \(2, 18, 7, 9\), got \(2, 18, 3, 9\)"),
    (lambda a: _replace(a, 4, a[4][:, :4].contiguous()), ValueError, r"mask must have shape \(2, 9, 7, 9\)"),
    (lambda a: _replace(a, 2, a[2][:, :3].contiguous()), ValueError,
     r"input channels \(4\) must be a multiple of weight.shape\[1\] \(3\)"),
    (lambda a: _replace(a, 3, a[3][:2]), ValueError, r"bias must have shape \(6,\)"),
    (lambda a: _replace(a, 0, a[0].transpose(2, 3).contiguous().transpose(2, 3)), ValueError,
     "input must be contiguous"),
    (lambda a: _replace(a, 2, a[2].to("meta")), ValueError, "must be on the same device"),
])
def test_bad_input_raises_clear_error(backend, make_args, error, message):
    x, offset, weight, bias, mask = make_args(conv_inputs())
    with pytest.raises(error, match=message):
        deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)


def test_empty_output_and_bad_stride_are_rejected():
    x, offset, weight, bias, _ = conv_inputs(size=(2, 2), padding=(0, 0), modulated=False)
    with pytest.raises(ValueError, match="the output would be empty"):
        deform_conv2d(x, offset, weight, bias)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        deform_conv2d(x, offset, weight, bias, stride=0)


def test_deform_conv2d_exports_with_torch_export():
    if not _backend.has_kernel("deform_conv2d"):
        pytest.skip("compiled kernels are not built")
    layer = ModulatedDeformConv2dPack(4, 6, 3, padding=1).eval()
    x = torch.randn(1, 4, 8, 8)
    program = torch.export.export(layer, (x,))
    assert "detops.deform_conv2d" in program.graph_module.code
    torch.testing.assert_close(program.module()(x), layer(x))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_deform_conv2d_exports_to_onnx_as_tensor_code():
    """Without an ONNX DeformConv in onnxruntime's default opsets, the op exports through its
    tensor code; onnxruntime must match torchvision on inputs it was not traced with."""
    import io

    import onnxruntime

    class Layer(torch.nn.Module):
        def forward(self, x, offset, weight, mask):
            return deform_conv2d(x, offset, weight, padding=1, mask=mask)

    x, offset, weight, _, mask = conv_inputs(dtype=torch.float32)
    buffer = io.BytesIO()
    torch.onnx.export(Layer(), (x, offset, weight, mask), buffer, dynamo=False, opset_version=17)
    x, offset, weight, _, mask = conv_inputs(dtype=torch.float32, seed=9)
    session = onnxruntime.InferenceSession(buffer.getvalue())
    names = [i.name for i in session.get_inputs()]
    (got,) = session.run(None, dict(zip(names, (t.numpy() for t in (x, offset, weight, mask)))))
    torch.testing.assert_close(torch.from_numpy(got), torchvision.ops.deform_conv2d(
        x, offset, weight, padding=1, mask=mask), rtol=1e-4, atol=1e-4)
