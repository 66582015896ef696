"""Rotated-box IoU and NMS against a shapely reference (exact polygon intersection) and, for
angle 0, against torchvision.ops.box_iou."""

import math

import pytest
import torch
import torchvision
from shapely import affinity
from shapely.geometry import box as shapely_box

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


def random_rotated(n, seed=0, dtype=torch.float64, spread=40.0):
    """(n, 5) boxes (cx, cy, w, h, angle) close enough to overlap often."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g, dtype=torch.float64) * spread + 1000
    size = torch.rand(n, 2, generator=g, dtype=torch.float64) * 30 + 2
    angle = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 2 * math.pi
    return torch.cat([centre, size, angle], 1).to(dtype)


def polygon(b, clockwise=True):
    """The shapely polygon of a rotated box. shapely rotates counter-clockwise in a y-up
    frame, which is clockwise on an image whose y axis points down."""
    cx, cy, w, h, a = b.tolist()
    rect = shapely_box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return affinity.rotate(rect, a if clockwise else -a, origin=(cx, cy), use_radians=True)


def shapely_overlaps(boxes1, boxes2, mode="iou", aligned=False, clockwise=True):
    pairs = zip(boxes1, boxes2) if aligned else ((a, b) for a in boxes1 for b in boxes2)
    values = []
    for a, b in pairs:
        pa, pb = polygon(a, clockwise), polygon(b, clockwise)
        inter = pa.intersection(pb).area
        values.append(inter / (pa.area if mode == "iof" else pa.area + pb.area - inter))
    shape = (len(boxes1),) if aligned else (len(boxes1), len(boxes2))
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


@pytest.mark.parametrize("mode", ["iou", "iof"])
@pytest.mark.parametrize("clockwise", [True, False])
def test_box_iou_rotated_matches_shapely(backend, mode, clockwise):
    a, b = random_rotated(25, seed=1), random_rotated(20, seed=2)
    got = detops.box_iou_rotated(a, b, mode=mode, clockwise=clockwise)
    torch.testing.assert_close(got, shapely_overlaps(a, b, mode, clockwise=clockwise),
                               atol=1e-9, rtol=1e-7)
    assert (got > 0).float().mean() > 0.2  # the comparison covered real overlaps


def test_box_iou_rotated_aligned_matches_shapely(backend):
    a, b = random_rotated(30, seed=3), random_rotated(30, seed=4)
    torch.testing.assert_close(detops.box_iou_rotated(a, b, aligned=True),
                               shapely_overlaps(a, b, aligned=True), atol=1e-9, rtol=1e-7)


def test_box_iou_rotated_float32_far_from_origin_matches_shapely(backend):
    a, b = random_rotated(15, seed=5), random_rotated(15, seed=6)
    got = detops.box_iou_rotated(a.float(), b.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), shapely_overlaps(a.float().double(),
                                                              b.float().double()), atol=2e-5,
                               rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_box_iou_rotated_half_precision(backend, dtype):
    a, b = random_rotated(10, seed=7, spread=20), random_rotated(10, seed=8, spread=20)
    a[:, :2] -= 1000
    b[:, :2] -= 1000
    a, b = a.to(dtype), b.to(dtype)
    got = detops.box_iou_rotated(a, b)
    assert got.dtype == dtype
    expected = shapely_overlaps(a.double(), b.double()).to(dtype)
    torch.testing.assert_close(got, expected, atol=1e-2, rtol=1e-2)


def test_box_iou_rotated_special_cases(backend):
    square = torch.tensor([[0.0, 0.0, 2.0, 2.0, 0.0]], dtype=torch.float64)
    turned = torch.tensor([[0.0, 0.0, 2.0, 2.0, math.pi / 4]], dtype=torch.float64)
    flat = torch.tensor([[0.0, 0.0, 2.0, 0.0, 0.3]], dtype=torch.float64)
    assert detops.box_iou_rotated(square, square).item() == pytest.approx(1.0)
    # a square and the same square turned 45 degrees: octagon of area 8 (sqrt(2) - 1)
    octagon = 8 * (math.sqrt(2) - 1)
    assert detops.box_iou_rotated(square, turned).item() == pytest.approx(
        octagon / (8 - octagon))
    assert detops.box_iou_rotated(square, flat).item() == 0.0  # zero area overlaps nothing
    assert detops.box_iou_rotated(square, square[:0]).shape == (1, 0)
    assert detops.box_iou_rotated(square[:0], square[:0], aligned=True).shape == (0,)


def test_box_iou_rotated_at_angle_zero_matches_torchvision(backend):
    rotated = random_rotated(30, seed=9)
    rotated[:, 4] = 0
    xyxy = torch.cat([rotated[:, :2] - rotated[:, 2:4] / 2, rotated[:, :2] + rotated[:, 2:4] / 2],
                     1)
    torch.testing.assert_close(detops.box_iou_rotated(rotated, rotated),
                               torchvision.ops.box_iou(xyxy, xyxy), atol=1e-9, rtol=1e-7)


def greedy_nms_shapely(boxes, scores, iou_threshold, labels=None):
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i].item(), i))
    keep = []
    for i in order:
        same = [k for k in keep if labels is None or labels[k] == labels[i]]
        ious = shapely_overlaps(boxes[same], boxes[i:i + 1]).flatten() if same else []
        if all(v <= iou_threshold for v in ious):
            keep.append(i)
    return keep


@pytest.mark.parametrize("with_labels", [False, True])
def test_nms_rotated_matches_greedy_shapely_reference(backend, with_labels):
    boxes = random_rotated(80, seed=10, spread=60)
    scores = torch.rand(80, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.randint(0, 3, (80,)) if with_labels else None
    dets, keep = detops.nms_rotated(boxes, scores, 0.2, labels=labels)
    assert keep.tolist() == greedy_nms_shapely(boxes, scores, 0.2, labels)
    assert dets.shape == (len(keep), 6)
    torch.testing.assert_close(dets, torch.cat([boxes[keep], scores[keep, None]], 1))


def test_nms_rotated_of_nothing_is_empty(backend):
    dets, keep = detops.nms_rotated(torch.empty(0, 5), torch.empty(0), 0.5)
    assert dets.shape == (0, 6) and keep.shape == (0,) and keep.dtype == torch.int64


def test_nms_rotated_anticlockwise_angles_are_negated(backend):
    boxes = random_rotated(40, seed=11, spread=50)
    scores = torch.rand(40, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mirrored = boxes.clone()
    mirrored[:, 4] = -mirrored[:, 4]
    _, keep = detops.nms_rotated(boxes, scores, 0.1, clockwise=False)
    _, expected = detops.nms_rotated(mirrored, scores, 0.1)
    assert torch.equal(keep, expected)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: detops.box_iou_rotated(torch.rand(3, 4), torch.rand(2, 5)), ValueError,
     r"bboxes1 must have shape \(N, 5\), got \(3, 4\)"),
    (lambda: detops.box_iou_rotated(torch.rand(3, 5), torch.rand(2, 5), mode="giou"), ValueError,
     r"mode must be one of \['iof', 'iou'\], got 'giou'"),
    (lambda: detops.box_iou_rotated(torch.rand(3, 5), torch.rand(2, 5), aligned=True), ValueError,
     "bboxes1 has 3, bboxes2 has 2"),
    (lambda: detops.nms_rotated(torch.rand(3, 5), torch.rand(3), 0.5, labels=torch.rand(3)),
     TypeError, "labels must be an integer tensor, got torch.float32"),
])
def test_rotated_ops_reject_bad_input_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
