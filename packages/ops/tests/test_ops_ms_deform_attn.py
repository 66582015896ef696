"""detops.ms_deform_attn against two references written here: MMCV's grid_sample formulation
and a direct gather of the four bilinear corners; every test runs on the compiled kernels and
on the pure-PyTorch fallback."""

import pytest
import torch
import torch.nn.functional as F

from detops import _backend
from detops.ms_deform_attn import multi_scale_deformable_attn


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    if request.param == "compiled":
        if not _backend.has_kernel("ms_deform_attn"):
            pytest.skip("compiled kernels are not built")
    else:
        monkeypatch.setattr(_backend, "use_kernel", lambda *args: False)
    return request.param


SHAPES = [(6, 8), (3, 4), (2, 1), (1, 1)]


def attn_inputs(bs=2, heads=3, channels=5, queries=7, points=4, shapes=SHAPES,
                dtype=torch.float64, seed=0):
    """Random inputs; locations reach a little beyond [0, 1] so some samples fall off the map."""
    g = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(shapes, dtype=torch.long)
    sizes = spatial_shapes.prod(1)
    level_start = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    levels = len(shapes)
    value = torch.randn(bs, int(sizes.sum()), heads, channels, generator=g, dtype=dtype)
    locations = torch.rand(bs, queries, heads, levels, points, 2, generator=g,
                           dtype=dtype) * 1.3 - 0.15
    weights = torch.rand(bs, queries, heads, levels, points, generator=g, dtype=dtype)
    return value, spatial_shapes, level_start, locations, weights


def reference_grid_sample(value, spatial_shapes, locations, weights):
    """MMCV's multi_scale_deformable_attn_pytorch, written out again for the test."""
    bs, _, heads, channels = value.shape
    queries, points = locations.shape[1], locations.shape[4]
    out = 0
    start = 0
    for level, (h, w) in enumerate(spatial_shapes.tolist()):
        level_value = value[:, start:start + h * w].permute(0, 2, 3, 1).reshape(
            bs * heads, channels, h, w)
        start += h * w
        grid = (2 * locations[:, :, :, level] - 1).permute(0, 2, 1, 3, 4).reshape(
            bs * heads, queries, points, 2)
        sampled = F.grid_sample(level_value, grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)                  # (bs*heads, C, Q, P)
        level_weights = weights[:, :, :, level].permute(0, 2, 1, 3).reshape(
            bs * heads, 1, queries, points)
        out = out + (sampled * level_weights).sum(-1)
    return out.view(bs, heads * channels, queries).transpose(1, 2)


def reference_corners(value, spatial_shapes, locations, weights):
    """Bilinear interpolation by gathering the four neighbouring pixels of each sample."""
    bs, _, heads, channels = value.shape
    out = 0
    start = 0
    batch = torch.arange(bs)[:, None, None, None]
    head = torch.arange(heads)[None, None, :, None]
    for level, (h, w) in enumerate(spatial_shapes.tolist()):
        x = locations[:, :, :, level, :, 0] * w - 0.5                     # (bs, Q, heads, P)
        y = locations[:, :, :, level, :, 1] * h - 0.5
        x0, y0 = x.floor(), y.floor()
        for dy in (0, 1):
            for dx in (0, 1):
                xi, yi = x0 + dx, y0 + dy
                corner_weight = (1 - (x - xi).abs()) * (1 - (y - yi).abs())
                inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
                key = start + (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long()
                rows = value[batch, key, head]                            # (bs, Q, heads, P, C)
                contribution = weights[:, :, :, level] * corner_weight * inside
                out = out + (rows * contribution[..., None]).sum(3)
        start += h * w
    return out.reshape(bs, -1, heads * channels)


def test_references_agree():
    value, shapes, _, locations, weights = attn_inputs()
    torch.testing.assert_close(reference_corners(value, shapes, locations, weights),
                               reference_grid_sample(value, shapes, locations, weights))


def test_matches_grid_sample_reference_forward_and_backward(backend):
    value, shapes, starts, locations, weights = attn_inputs()
    ours_in = [t.clone().requires_grad_() for t in (value, locations, weights)]
    ref_in = [t.clone().requires_grad_() for t in (value, locations, weights)]
    ours = multi_scale_deformable_attn(ours_in[0], shapes, starts, ours_in[1], ours_in[2])
    ref = reference_grid_sample(ref_in[0], shapes, ref_in[1], ref_in[2])
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(3),
                           dtype=ref.dtype)
    ours.backward(grad_out)
    ref.backward(grad_out)
    for name, a, b in zip(("value", "sampling_locations", "attention_weights"), ours_in, ref_in):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-9, msg=name)


def test_matches_corner_reference_in_float32(backend):
    value, shapes, starts, locations, weights = attn_inputs(bs=1, heads=8, channels=32,
                                                            queries=50, dtype=torch.float32)
    ours = multi_scale_deformable_attn(value, shapes, starts, locations, weights)
    torch.testing.assert_close(ours, reference_corners(value, shapes, locations, weights),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_matches_reference_in_float32(backend, dtype):
    value, shapes, starts, locations, weights = (
        t.to(dtype) if t.is_floating_point() else t for t in attn_inputs(dtype=torch.float32))
    out = multi_scale_deformable_attn(value, shapes, starts, locations, weights)
    assert out.dtype == dtype
    ref = reference_corners(value.float(), shapes, locations.float(), weights.float())
    tolerance = 1e-2 if dtype == torch.float16 else 5e-2
    torch.testing.assert_close(out.float(), ref, rtol=tolerance, atol=tolerance)


def test_no_queries_gives_empty_output(backend):
    value, shapes, starts, locations, weights = attn_inputs(queries=0)
    value.requires_grad_()
    out = multi_scale_deformable_attn(value, shapes, starts, locations, weights)
    assert out.shape == (2, 0, 15)
    out.sum().backward()
    assert torch.count_nonzero(value.grad) == 0


def test_gradcheck(backend):
    value, shapes, starts, locations, weights = attn_inputs(bs=1, heads=2, channels=2,
                                                            queries=2, points=2,
                                                            shapes=[(3, 4), (2, 2)])
    inputs = tuple(t.requires_grad_() for t in (value, locations, weights))
    assert torch.autograd.gradcheck(
        lambda v, loc, w: multi_scale_deformable_attn(v, shapes, starts, loc, w), inputs)


@pytest.mark.parametrize("make_args,error,message", [
    (lambda a: (a[0][0], *a[1:]), ValueError, r"value must have shape \(N, M, K, L\)"),
    (lambda a: (a[0].long(), *a[1:]), TypeError, "value must be a floating point tensor"),
    (lambda a: (a[0], a[1].float(), *a[2:]), TypeError,
     "value_spatial_shapes must be an integer tensor"),
    (lambda a: (*a[:2], a[2][:2], *a[3:]), ValueError,
     r"value_level_start_index must have shape \(4,\)"),
    (lambda a: (*a[:3], a[3][..., :1].contiguous(), a[4]), ValueError,
     "sampling_locations must have shape"),
    (lambda a: (*a[:4], a[4][:, :3].contiguous()), ValueError,
     r"attention_weights must have shape \(2, 7, 3, 4, 4\)"),
    (lambda a: (a[0][:, :-1].contiguous(), *a[1:]), ValueError,
     r"value has 62 keys but value_spatial_shapes \[\[6, 8\]"),
    (lambda a: (*a[:2], a[2] + 1, *a[3:]), ValueError,
     r"value_level_start_index must be \[0, 48, 60, 62\]"),
    (lambda a: (a[0].transpose(0, 1).contiguous().transpose(0, 1), *a[1:]), ValueError,
     "value must be contiguous"),
    (lambda a: (*a[:4], a[4].to("meta")), ValueError, "must be on the same device"),
])
def test_bad_input_raises_clear_error(backend, make_args, error, message):
    with pytest.raises(error, match=message):
        multi_scale_deformable_attn(*make_args(attn_inputs()))


def test_im2col_step_must_be_positive():
    with pytest.raises(ValueError, match="im2col_step must be a positive int, got 0"):
        multi_scale_deformable_attn(*attn_inputs(), im2col_step=0)


def test_compiled_op_rejects_inconsistent_levels_without_crashing():
    if not _backend.has_kernel("ms_deform_attn"):
        pytest.skip("compiled kernels are not built")
    value, shapes, starts, locations, weights = attn_inputs()
    with pytest.raises(RuntimeError, match="value has 63 keys but value_spatial_shapes sum to 64"):
        torch.ops.detops.ms_deform_attn(value, shapes + torch.tensor([[0, 0], [0, 0], [0, 0],
                                                                      [0, 1]]),
                                        starts, locations, weights)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_exports_to_onnx_as_grid_sample():
    """The export runs the grid_sample code, with the level shapes of the example fixed in the
    graph; onnxruntime must match the corner reference on new values and locations."""
    import io

    import onnxruntime

    class Attention(torch.nn.Module):
        def forward(self, value, shapes, starts, locations, weights):
            return multi_scale_deformable_attn(value, shapes, starts, locations, weights)

    names = ["value", "shapes", "starts", "locations", "weights"]
    inputs = [t.float() if t.is_floating_point() else t for t in attn_inputs()]
    buffer = io.BytesIO()
    torch.onnx.export(Attention(), tuple(inputs), buffer, dynamo=False, opset_version=17,
                      input_names=names)
    value, shapes, starts, locations, weights = (
        t.float() if t.is_floating_point() else t for t in attn_inputs(seed=4))
    session = onnxruntime.InferenceSession(buffer.getvalue())
    feeds = dict(zip(names, (t.numpy() for t in (value, shapes, starts, locations, weights))))
    (got,) = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})
    torch.testing.assert_close(torch.from_numpy(got),
                               reference_corners(value, shapes, locations, weights),
                               rtol=1e-5, atol=1e-5)
