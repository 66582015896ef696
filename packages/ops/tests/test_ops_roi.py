"""detops.roi_ops against torchvision.ops.roi_align / roi_pool, and against a loop-by-loop
PyTorch reference for MMCV's max pooling mode; every test runs on the compiled kernels and on
the pure-PyTorch fallback."""

import pytest
import torch
import torchvision

from detops import _backend
from detops.roi_ops import RoIAlign, RoIPool, roi_align, roi_pool


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    if request.param == "compiled":
        if not _backend.has_kernel("roi_align"):
            pytest.skip("compiled kernels are not built")
    else:
        monkeypatch.setattr(_backend, "use_kernel", lambda *args: False)
    return request.param


def random_rois(num, batch, height, width, scale=1.0, dtype=torch.float64, seed=0):
    """(num, 5) RoIs in image coordinates (feature map * 1 / scale), some partly outside the
    map, plus degenerate ones: zero size, a single point, inverted corners."""
    g = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height, width, height], dtype=dtype) / scale
    xy = torch.rand(num, 2, generator=g, dtype=dtype) * size[:2] * 1.2 - size[:2] * 0.1
    wh = torch.rand(num, 2, generator=g, dtype=dtype) * size[:2] * 0.6
    boxes = torch.cat([xy, xy + wh], dim=1)
    boxes[0] = torch.tensor([3.0, 3.0, 3.0, 3.0])           # a point
    boxes[1] = torch.tensor([2.0, 5.0, 8.0, 5.0])           # zero height
    boxes[2] = torch.tensor([6.0, 6.0, 2.0, 1.0])           # inverted
    batch_index = torch.randint(0, batch, (num, 1), generator=g).to(dtype)
    return torch.cat([batch_index, boxes], dim=1)


def features(*shape, dtype=torch.float64, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ------------------------------------------------------------------------------------ roi_align

@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 2])
@pytest.mark.parametrize("output_size", [(7, 5), 3])
def test_roi_align_matches_torchvision(backend, aligned, sampling_ratio, output_size):
    x = features(2, 3, 11, 13)
    rois = random_rois(24, 2, 11, 13, scale=0.5)
    ours_x = x.clone().requires_grad_()
    ref_x = x.clone().requires_grad_()
    ours = roi_align(ours_x, rois, output_size, 0.5, sampling_ratio, aligned)
    ref = torchvision.ops.roi_align(ref_x, rois, output_size, 0.5, sampling_ratio, aligned)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    grad_out = features(*ref.shape, seed=2)
    ours.backward(grad_out)
    ref.backward(grad_out)
    torch.testing.assert_close(ours_x.grad, ref_x.grad, rtol=1e-12, atol=1e-12)


def test_roi_align_list_of_boxes_matches_torchvision(backend):
    x = features(3, 4, 9, 9)
    boxes = [torch.tensor([[0.0, 0.0, 5.0, 5.0], [1.5, 2.5, 8.0, 7.0]], dtype=torch.float64),
             torch.zeros((0, 4), dtype=torch.float64),
             torch.tensor([[-2.0, 3.0, 4.0, 12.0]], dtype=torch.float64)]
    ours = roi_align(x, boxes, 2, 1.0, 2, True)
    ref = torchvision.ops.roi_align(x, boxes, 2, 1.0, 2, True)
    torch.testing.assert_close(ours, ref)


def test_roi_align_empty_rois_give_empty_output_and_zero_grad(backend):
    x = features(2, 3, 6, 6).requires_grad_()
    out = roi_align(x, torch.zeros((0, 5), dtype=torch.float64), (4, 2), 1.0, 2, True)
    assert out.shape == (0, 3, 4, 2)
    out.sum().backward()
    assert torch.count_nonzero(x.grad) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_roi_align_low_precision_matches_torchvision_in_float32(backend, dtype):
    x = features(2, 3, 11, 13, dtype=torch.float32).to(dtype)
    rois = random_rois(16, 2, 11, 13, dtype=torch.float32)
    out = roi_align(x, rois.to(dtype), 5, 1.0, 2, True)
    assert out.dtype == dtype
    ref = torchvision.ops.roi_align(x.float(), rois.to(dtype).float(), 5, 1.0, 2, True)
    tolerance = 1e-2 if dtype == torch.float16 else 5e-2
    torch.testing.assert_close(out.float(), ref, rtol=tolerance, atol=tolerance)


def test_roi_align_float32_matches_torchvision(backend):
    x = features(2, 8, 20, 30, dtype=torch.float32)
    rois = random_rois(40, 2, 20, 30, scale=0.25, dtype=torch.float32)
    ours = roi_align(x, rois, 7, 0.25, 0, True)
    ref = torchvision.ops.roi_align(x, rois, 7, 0.25, 0, True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def reference_bilinear(plane, y, x):
    """torchvision's bilinear rule for one sample, written out scalar by scalar."""
    height, width = plane.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return plane.new_zeros(())
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    return ((1 - ly) * (1 - lx) * plane[y_low, x_low] + (1 - ly) * lx * plane[y_low, x_high]
            + ly * (1 - lx) * plane[y_high, x_low] + ly * lx * plane[y_high, x_high])


def reference_roi_align_max(x, rois, pooled, scale, sampling_ratio, aligned):
    """MMCV's pool_mode='max': the largest bilinear sample of each bin, loop by loop."""
    out = x.new_zeros((rois.shape[0], x.shape[1], pooled, pooled))
    offset = 0.5 if aligned else 0.0
    for n, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (v * scale - offset for v in (x1, y1, x2, y2))
        w, h = x2 - x1, y2 - y1
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        grid_h = sampling_ratio if sampling_ratio > 0 else max(int(-(-h / pooled // 1)), 0)
        grid_w = sampling_ratio if sampling_ratio > 0 else max(int(-(-w / pooled // 1)), 0)
        for c in range(x.shape[1]):
            for ph in range(pooled):
                for pw in range(pooled):
                    values = [reference_bilinear(
                        x[int(b), c], y1 + ph * h / pooled + (iy + 0.5) * h / pooled / grid_h,
                        x1 + pw * w / pooled + (ix + 0.5) * w / pooled / grid_w)
                        for iy in range(grid_h) for ix in range(grid_w)]
                    if values:
                        out[n, c, ph, pw] = torch.stack(values).max()
    return out


@pytest.mark.parametrize("aligned,sampling_ratio", [(True, 2), (False, 0), (True, -1)])
def test_roi_align_max_mode_matches_loop_reference(backend, aligned, sampling_ratio):
    x = features(2, 2, 7, 8)
    rois = random_rois(8, 2, 7, 8)
    ours_x, ref_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = roi_align(ours_x, rois, 3, 1.0, sampling_ratio, aligned, pool_mode="max")
    ref = reference_roi_align_max(ref_x, rois, 3, 1.0, sampling_ratio, aligned)
    torch.testing.assert_close(ours, ref)
    grad_out = features(*ref.shape, seed=3)
    ours.backward(grad_out)
    ref.backward(grad_out)
    torch.testing.assert_close(ours_x.grad, ref_x.grad)


@pytest.mark.parametrize("pool_mode", ["avg", "max"])
@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_gradcheck(backend, pool_mode, aligned):
    x = features(2, 2, 5, 6).requires_grad_()
    rois = torch.tensor([[0, 0.3, 0.7, 4.1, 3.9], [1, 1.2, -0.8, 6.6, 4.4],
                         [1, 2.2, 2.1, 2.9, 3.3]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda t: roi_align(t, rois, 2, 1.0, 2, aligned, pool_mode), (x,))


def test_roi_align_module_has_mmcv_defaults_and_matches_torchvision(backend):
    layer = RoIAlign(7, spatial_scale=0.25)
    assert (layer.output_size, layer.sampling_ratio, layer.pool_mode, layer.aligned) == \
        ((7, 7), 0, "avg", True)
    x = features(2, 3, 20, 24)
    rois = random_rois(10, 2, 20, 24, scale=0.25)
    ref = torchvision.ops.roi_align(x, rois, 7, 0.25, 0, True)
    torch.testing.assert_close(layer(x, rois), ref)
    torch.testing.assert_close(RoIAlign(7, 0.25, use_torchvision=True)(x, rois), ref)
    assert "pool_mode='avg'" in repr(layer)


def test_roi_align_module_rejects_max_mode_with_torchvision():
    with pytest.raises(ValueError, match="use_torchvision=True supports pool_mode='avg' only"):
        RoIAlign(7, pool_mode="max", use_torchvision=True)


# ------------------------------------------------------------------------------------- roi_pool

@pytest.mark.parametrize("output_size", [(4, 3), 2])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_pool_matches_torchvision(backend, output_size, scale):
    x = features(2, 3, 11, 13)
    rois = random_rois(24, 2, 11, 13, scale=scale)
    ours_x, ref_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = roi_pool(ours_x, rois, output_size, scale)
    ref = torchvision.ops.roi_pool(ref_x, rois, output_size, scale)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    grad_out = features(*ref.shape, seed=2)
    ours.backward(grad_out)
    ref.backward(grad_out)
    torch.testing.assert_close(ours_x.grad, ref_x.grad)


def test_roi_pool_ties_send_the_gradient_where_torchvision_does(backend):
    # integer-valued features make many bins hold several equal maxima
    x = torch.randint(0, 3, (1, 2, 9, 9), generator=torch.Generator().manual_seed(0)).double()
    rois = torch.tensor([[0, 0.0, 0.0, 8.0, 8.0], [0, 2.4, 1.5, 6.5, 7.6]], dtype=torch.float64)
    ours_x, ref_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    roi_pool(ours_x, rois, 3).sum().backward()
    torchvision.ops.roi_pool(ref_x, rois, 3).sum().backward()
    torch.testing.assert_close(ours_x.grad, ref_x.grad, rtol=0, atol=0)


def test_roi_pool_rounds_halves_away_from_zero_like_torchvision(backend):
    x = features(1, 1, 8, 8)
    rois = torch.tensor([[0, 0.5, 1.5, 2.5, 4.5], [0, -0.5, -1.5, 3.5, 5.5]], dtype=torch.float64)
    torch.testing.assert_close(roi_pool(x, rois, 2), torchvision.ops.roi_pool(x, rois, 2))


def test_roi_pool_empty_and_low_precision(backend):
    x = features(2, 3, 8, 8, dtype=torch.float32)
    assert roi_pool(x, torch.zeros((0, 5)), 2).shape == (0, 3, 2, 2)
    rois = random_rois(10, 2, 8, 8, dtype=torch.float32)
    for dtype in (torch.float16, torch.bfloat16):
        out = roi_pool(x.to(dtype), rois, 3)
        assert out.dtype == dtype
        ref = torchvision.ops.roi_pool(x.to(dtype).float(), rois, 3)
        torch.testing.assert_close(out.float(), ref, rtol=0, atol=0)


def test_roi_pool_gradcheck_and_module(backend):
    x = features(2, 2, 6, 6).requires_grad_()
    rois = torch.tensor([[0, 0.3, 0.7, 4.1, 3.9], [1, 1.2, -0.8, 6.6, 4.4]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: roi_pool(t, rois, 2, 1.0), (x,))
    layer = RoIPool((2, 3), spatial_scale=0.5)
    torch.testing.assert_close(layer(x, rois), torchvision.ops.roi_pool(x, rois, (2, 3), 0.5))


# ---------------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("op", [roi_align, roi_pool])
@pytest.mark.parametrize("make_args,error,message", [
    (lambda x, r: (x[0], r), ValueError, r"input must have shape \(N, M, K, L\)"),
    (lambda x, r: (x, r[:, 1:]), ValueError, r"boxes must have shape \(N, 5\)"),
    (lambda x, r: (x.long(), r), TypeError, "input must be a floating point tensor"),
    (lambda x, r: (x, r.long()), TypeError, "boxes must be a floating point tensor"),
    (lambda x, r: (x.transpose(2, 3), r), ValueError, "input must be contiguous"),
    (lambda x, r: (x, r.to("meta")), ValueError, "must be on the same device"),
    (lambda x, r: (x, [r]), ValueError, r"boxes\[0\] must have shape \(N, 4\)"),
    (lambda x, r: (x, r + torch.tensor([5.0, 0, 0, 0, 0])), ValueError,
     r"boxes\[:, 0\] must be batch indices in \[0, 2\)"),
    (lambda x, r: (x, r * float("nan")), ValueError, "NaN or infinite"),
])
def test_bad_input_raises_clear_error(backend, op, make_args, error, message):
    x = features(2, 3, 6, 6)
    rois = torch.tensor([[0, 1.0, 1.0, 4.0, 4.0], [1, 0.0, 0.0, 5.0, 3.0]], dtype=torch.float64)
    with pytest.raises(error, match=message):
        op(*make_args(x, rois), 2)


@pytest.mark.parametrize("kwargs,message", [
    (dict(output_size=0), "output_size must be a positive int"),
    (dict(output_size=(2, 2, 2)), "output_size must be a positive int"),
    (dict(output_size=2, pool_mode="sum"), "pool_mode must be one of"),
    (dict(output_size=2, sampling_ratio=1.5), "sampling_ratio must be an int"),
])
def test_roi_align_bad_arguments(kwargs, message):
    x = features(1, 1, 4, 4)
    rois = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
    with pytest.raises((ValueError, TypeError), match=message):
        roi_align(x, rois, **kwargs)


def test_compiled_ops_reject_bad_rois_without_crashing():
    if not _backend.has_kernel("roi_align"):
        pytest.skip("compiled kernels are not built")
    x = features(1, 2, 4, 4)
    bad = torch.tensor([[3, 0.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"rois\[:, 0\] must be batch indices in \[0, 1\)"):
        torch.ops.detops.roi_align(x, bad, 1.0, 2, 2, 2, True, False)
    with pytest.raises(RuntimeError, match=r"rois\[:, 0\] must be batch indices"):
        torch.ops.detops.roi_pool(x, bad, 1.0, 2, 2)
    huge = torch.tensor([[0, 0.0, 0.0, 1e12, 1e12]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="samples per bin"):
        torch.ops.detops.roi_align(x, huge, 1.0, 2, 2, 0, True, False)


def test_roi_align_exports_with_torch_export():
    if not _backend.has_kernel("roi_align"):
        pytest.skip("compiled kernels are not built")

    class Head(torch.nn.Module):
        def forward(self, x, rois):
            return roi_align(x, rois, 3, 0.5, 2, True)

    x = features(2, 4, 8, 8, dtype=torch.float32)
    rois = random_rois(5, 2, 8, 8, scale=0.5, dtype=torch.float32)
    program = torch.export.export(Head(), (x, rois))
    assert "detops.roi_align" in program.graph_module.code
    torch.testing.assert_close(program.module()(x, rois),
                               torchvision.ops.roi_align(x, rois, 3, 0.5, 2, True))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_roi_ops_export_to_onnx_and_match_in_onnxruntime():
    """roi_align becomes ONNX RoiAlign, roi_pool MaxRoiPool, max mode exports as tensor code;
    onnxruntime must reproduce torchvision (and the loop reference) on RoIs it was not traced
    with."""
    import io

    import onnxruntime

    class Heads(torch.nn.Module):
        def forward(self, x, rois):
            return (roi_align(x, rois, 3, 0.5, 0, True), roi_align(x, rois, (3, 2), 0.5, 2, False),
                    roi_pool(x, rois, 2, 0.5), roi_align(x, rois, 2, 0.5, 2, True, "max"))

    x = features(2, 3, 9, 9, dtype=torch.float32)
    buffer = io.BytesIO()
    torch.onnx.export(Heads(), (x, random_rois(4, 2, 9, 9, scale=0.5, dtype=torch.float32)),
                      buffer, dynamo=False, opset_version=17, input_names=["x", "rois"],
                      dynamic_axes={"rois": {0: "num_rois"}})
    rois = random_rois(9, 2, 9, 9, scale=0.5, dtype=torch.float32, seed=7)
    outputs = onnxruntime.InferenceSession(buffer.getvalue()).run(
        None, {"x": x.numpy(), "rois": rois.numpy()})
    expected = (torchvision.ops.roi_align(x, rois, 3, 0.5, 0, True),
                torchvision.ops.roi_align(x, rois, (3, 2), 0.5, 2, False),
                torchvision.ops.roi_pool(x, rois, 2, 0.5),
                reference_roi_align_max(x.double(), rois.double(), 2, 0.5, 2, True).float())
    for got, want in zip(outputs, expected):
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_max_mode_with_adaptive_sampling_refuses_onnx_export():
    import io

    class Head(torch.nn.Module):
        def forward(self, x, rois):
            return roi_align(x, rois, 2, 1.0, 0, True, "max")

    x = features(1, 1, 4, 4, dtype=torch.float32)
    rois = torch.tensor([[0, 0.0, 0.0, 3.0, 3.0]])
    with pytest.raises(ValueError, match="exports to ONNX only with a fixed sampling_ratio > 0"):
        torch.onnx.export(Head(), (x, rois), io.BytesIO(), dynamo=False, opset_version=17)
