"""box_iou and bbox_overlaps against torchvision.ops.box_iou / generalized_box_iou, values
computed by hand, the examples of MMDetection's documentation, and autograd of the plain
tensor expression; backward passes gradcheck in double precision."""

import pytest
import torch
import torchvision

import detops
from detops import _backend


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    """Run a test once on the compiled kernels and once on the pure-PyTorch fallbacks."""
    if request.param == "compiled" and not _backend.COMPILED:
        pytest.skip(f"kernels not compiled: {_backend.LOAD_ERROR}")
    if request.param == "torch":
        monkeypatch.setattr(_backend, "use_kernel", lambda *args: False)
    return request.param


def random_boxes(*shape, seed=0, dtype=torch.float32):
    """(*shape, 4) xyxy boxes with positive sides, overlapping often."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(*shape, 2, generator=g, dtype=torch.float64) * 50
    wh = torch.rand(*shape, 2, generator=g, dtype=torch.float64) * 30 + 0.5
    return torch.cat([xy, xy + wh], -1).to(dtype)


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 3), (3, 0), (1, 1), (37, 53)])
def test_box_iou_matches_torchvision(backend, n, m):
    a, b = random_boxes(n, seed=1), random_boxes(m, seed=2)
    torch.testing.assert_close(detops.box_iou(a, b), torchvision.ops.box_iou(a, b))


def test_box_iou_degenerate_boxes_match_torchvision(backend):
    a, b = random_boxes(20, seed=3), random_boxes(30, seed=4)
    a[::3, 2] = a[::3, 0]  # zero width
    b[::4, 3] = b[::4, 1] - 2  # negative height
    a[1] = b[1] = torch.tensor([5.0, 5.0, 5.0, 5.0])  # two points: 0/0
    torch.testing.assert_close(detops.box_iou(a, b), torchvision.ops.box_iou(a, b),
                               equal_nan=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_box_iou_other_dtypes_match_torchvision(backend, dtype):
    a, b = random_boxes(25, seed=5, dtype=dtype), random_boxes(15, seed=6, dtype=dtype)
    got = detops.box_iou(a, b)
    assert got.dtype == dtype
    expected = torchvision.ops.box_iou(a.double(), b.double()).to(dtype)
    torch.testing.assert_close(got, expected)


def test_bbox_overlaps_documented_example(backend):
    # MMDetection's bbox_overlaps docstring; the values are worked out by hand
    bboxes1 = torch.tensor([[0.0, 0, 10, 10], [10, 10, 20, 20], [32, 32, 38, 42]])
    bboxes2 = torch.tensor([[0.0, 0, 10, 20], [0, 10, 10, 19], [10, 10, 20, 20]])
    expected = torch.tensor([[100 / 200, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(detops.bbox_overlaps(bboxes1, bboxes2), expected)
    torch.testing.assert_close(detops.bbox_overlaps(bboxes1, bboxes2, is_aligned=True),
                               torch.tensor([0.5, 0.0, 0.0]))
    # IoF divides by the first box's area: [0,0,10,10] is entirely inside [0,0,10,20]
    assert detops.bbox_overlaps(bboxes1, bboxes2, mode="iof")[0, 0].item() == 1.0
    # GIoU of two disjoint 10x10 boxes touching a 20x20 enclosure at opposite corners
    giou = detops.bbox_overlaps(bboxes1[:2], bboxes1[:2], mode="giou")
    torch.testing.assert_close(giou[0, 1], torch.tensor(0.0 - (400 - 200) / 400))


def test_bbox_overlaps_documented_empty_shapes(backend):
    empty = torch.empty(0, 4)
    nonempty = torch.tensor([[0.0, 0, 10, 9]])
    assert tuple(detops.bbox_overlaps(empty, nonempty).shape) == (0, 1)
    assert tuple(detops.bbox_overlaps(nonempty, empty).shape) == (1, 0)
    assert tuple(detops.bbox_overlaps(empty, empty).shape) == (0, 0)
    assert tuple(detops.bbox_overlaps(empty, empty, is_aligned=True).shape) == (0,)


def test_bbox_overlaps_iou_and_giou_match_torchvision(backend):
    a, b = random_boxes(40, seed=7), random_boxes(30, seed=8)
    torch.testing.assert_close(detops.bbox_overlaps(a, b), torchvision.ops.box_iou(a, b))
    torch.testing.assert_close(detops.bbox_overlaps(a, b, mode="giou"),
                               torchvision.ops.generalized_box_iou(a, b))


def test_bbox_overlaps_iof_matches_hand_formula(backend):
    a, b = random_boxes(20, seed=9, dtype=torch.float64), random_boxes(10, seed=10,
                                                                         dtype=torch.float64)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    torch.testing.assert_close(detops.bbox_overlaps(a, b, mode="iof"), inter / area_a[:, None])


@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
def test_bbox_overlaps_aligned_and_batched_agree_with_pairwise(backend, mode):
    a, b = random_boxes(2, 3, 12, seed=11), random_boxes(2, 3, 12, seed=12)
    pairwise = detops.bbox_overlaps(a, b, mode=mode)
    assert pairwise.shape == (2, 3, 12, 12)
    aligned = detops.bbox_overlaps(a, b, mode=mode, is_aligned=True)
    assert aligned.shape == (2, 3, 12)
    torch.testing.assert_close(aligned, pairwise.diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(pairwise[1, 2], detops.bbox_overlaps(a[1, 2], b[1, 2], mode=mode))


def test_bbox_overlaps_eps_bounds_the_union(backend):
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert detops.bbox_overlaps(point, point).item() == 0.0  # 0 / max(0, eps)
    assert torch.isnan(detops.box_iou(point, point)).item()  # torchvision: 0 / 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_bbox_overlaps_half_precision_is_computed_in_float32(backend, dtype):
    a, b = random_boxes(16, seed=13), random_boxes(16, seed=14)
    got = detops.bbox_overlaps(a.to(dtype), b.to(dtype), mode="giou")
    assert got.dtype == dtype
    expected = torchvision.ops.generalized_box_iou(a.to(dtype).float(), b.to(dtype).float())
    torch.testing.assert_close(got, expected.to(dtype))


@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("aligned", [False, True])
def test_bbox_overlaps_gradcheck(backend, mode, aligned):
    a = random_boxes(2, 6, seed=15, dtype=torch.float64).requires_grad_()
    b = random_boxes(2, 6, seed=16, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, y: detops.bbox_overlaps(x, y, mode=mode, is_aligned=aligned), (a, b))


def test_giou_gradient_matches_autograd_of_torchvision(backend):
    a = random_boxes(30, seed=17).requires_grad_()
    b = random_boxes(30, seed=18).requires_grad_()
    weights = torch.rand(30)
    (detops.bbox_overlaps(a, b, mode="giou", is_aligned=True) * weights).sum().backward()
    ours = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    (torchvision.ops.generalized_box_iou(a, b).diagonal() * weights).sum().backward()
    torch.testing.assert_close(ours[0], a.grad)
    torch.testing.assert_close(ours[1], b.grad)


def test_box_iou_gradient_matches_autograd_of_torchvision(backend):
    a = random_boxes(9, seed=19).requires_grad_()
    b = random_boxes(7, seed=20).requires_grad_()
    upstream = torch.randn(9, 7)
    ours = torch.autograd.grad((detops.box_iou(a, b) * upstream).sum(), (a, b))
    expected = torch.autograd.grad((torchvision.ops.box_iou(a, b) * upstream).sum(), (a, b))
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: detops.box_iou(torch.rand(3, 5), torch.rand(2, 4)), ValueError,
     r"boxes1 must have shape \(N, 4\), got \(3, 5\)"),
    (lambda: detops.bbox_overlaps(torch.rand(3, 4), torch.rand(2, 4), mode="diou"), ValueError,
     r"mode must be one of \['giou', 'iof', 'iou'\], got 'diou'"),
    (lambda: detops.bbox_overlaps(torch.rand(3, 4), torch.rand(2, 4), is_aligned=True),
     ValueError, "is_aligned=True needs as many bboxes1 as bboxes2, got 3 and 2"),
    (lambda: detops.bbox_overlaps(torch.rand(2, 3, 4), torch.rand(3, 3, 4)), ValueError,
     "bboxes1 and bboxes2 must have the same batch dimensions"),
    (lambda: detops.bbox_overlaps(torch.ones(3, 4, dtype=torch.int32), torch.rand(2, 4)),
     TypeError, "bboxes1 must be a floating point tensor, got torch.int32"),
    (lambda: detops.box_iou(torch.rand(3, 4), torch.rand(2, 4, device="meta")), ValueError,
     "all tensors must be on the same device, got boxes1 on cpu, boxes2 on meta"),
])
def test_overlaps_reject_bad_input_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_box_iou_exports_with_torch_export():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")

    class Overlaps(torch.nn.Module):
        def forward(self, a, b):
            return detops.box_iou(a, b)

    a, b = random_boxes(5, seed=21), random_boxes(6, seed=22)
    program = torch.export.export(Overlaps(), (a, b))
    assert "detops.box_overlaps" in str(program.graph)
    torch.testing.assert_close(program.module()(a, b), torchvision.ops.box_iou(a, b))


@pytest.mark.filterwarnings("ignore")
def test_bbox_overlaps_exports_to_onnx_through_the_tensor_expression():
    import io

    import onnxruntime

    class GIoU(torch.nn.Module):
        def forward(self, a, b):
            return detops.bbox_overlaps(a, b, mode="giou")

    a, b = random_boxes(8, seed=23), random_boxes(5, seed=24)
    buffer = io.BytesIO()
    torch.onnx.export(GIoU(), (a, b), buffer, dynamo=False, opset_version=17)
    assert b"detops" not in buffer.getvalue()
    session = onnxruntime.InferenceSession(buffer.getvalue())
    names = [i.name for i in session.get_inputs()]
    (got,) = session.run(None, dict(zip(names, (a.numpy(), b.numpy()))))
    torch.testing.assert_close(torch.from_numpy(got), torchvision.ops.generalized_box_iou(a, b))
