"""bbox_overlaps against torchvision's box_iou / generalized_box_iou, hand-computed values,
the documented examples of the MMDetection / MMCV seeds and (peer) MMDetection 3.3.0."""

import pytest
import torch
import torchvision.ops as tv_ops

from detcore.structures.bbox.bbox_overlaps import bbox_overlaps

# The documented example of mmdet.core.bbox.bbox_overlaps / mmcv.ops.bbox_overlaps.
SEED_BBOXES1 = torch.tensor(
    [[0, 0, 10, 10], [10, 10, 20, 20], [32, 32, 38, 42]], dtype=torch.float32
)
SEED_BBOXES2 = torch.tensor(
    [[0, 0, 10, 20], [0, 10, 10, 19], [10, 10, 20, 20]], dtype=torch.float32
)


def random_boxes(n, *batch, seed=0, scale=100.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(*batch, n, 2, generator=g) * scale
    wh = torch.rand(*batch, n, 2, generator=g) * scale / 2 + 1
    return torch.cat([xy, xy + wh], dim=-1)


def test_seed_documented_example_values_and_shapes():
    """Values printed in mmcv.ops.bbox_overlaps' docstring; shapes from mmdet's."""
    expected = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    overlaps = bbox_overlaps(SEED_BBOXES1, SEED_BBOXES2)
    assert overlaps.shape == (3, 3)
    torch.testing.assert_close(overlaps, expected)
    aligned = bbox_overlaps(SEED_BBOXES1, SEED_BBOXES2, is_aligned=True)
    assert aligned.shape == (3,)
    torch.testing.assert_close(aligned, torch.tensor([0.5, 0.0, 0.0]))


@pytest.mark.parametrize("empty", [torch.empty(0, 4), torch.FloatTensor([])], ids=["0x4", "0"])
def test_seed_documented_empty_shapes(empty):
    """mmdet/mmcv docstrings: (0, 1), (1, 0), (0, 0), for (0, 4) and for FloatTensor([])."""
    nonempty = torch.tensor([[0.0, 0.0, 10.0, 9.0]])
    assert tuple(bbox_overlaps(empty, nonempty).shape) == (0, 1)
    assert tuple(bbox_overlaps(nonempty, empty).shape) == (1, 0)
    assert tuple(bbox_overlaps(empty, empty).shape) == (0, 0)
    assert tuple(bbox_overlaps(empty, empty, is_aligned=True).shape) == (0,)


def test_empty_with_batch_dims_keeps_batch_shape():
    boxes = random_boxes(3, 2)
    empty = torch.zeros(2, 0, 4)
    assert bbox_overlaps(empty, boxes).shape == (2, 0, 3)
    assert bbox_overlaps(boxes, empty, mode="giou").shape == (2, 3, 0)
    assert bbox_overlaps(empty, empty, is_aligned=True).shape == (2, 0)
    no_batch = torch.zeros(0, 3, 4)
    assert bbox_overlaps(no_batch, torch.zeros(0, 5, 4)).shape == (0, 3, 5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_iou_matches_torchvision_box_iou(dtype):
    boxes1, boxes2 = random_boxes(13, seed=1).to(dtype), random_boxes(17, seed=2).to(dtype)
    expected = tv_ops.box_iou(boxes1, boxes2)
    torch.testing.assert_close(bbox_overlaps(boxes1, boxes2), expected)
    torch.testing.assert_close(
        bbox_overlaps(boxes1, boxes2[:13], is_aligned=True), expected[:, :13].diagonal()
    )


def test_giou_matches_torchvision_generalized_box_iou():
    boxes1, boxes2 = random_boxes(11, seed=3), random_boxes(9, seed=4)
    expected = tv_ops.generalized_box_iou(boxes1, boxes2)
    giou = bbox_overlaps(boxes1, boxes2, mode="giou")
    torch.testing.assert_close(giou, expected)
    assert giou.min() >= -1 and giou.max() <= 1
    torch.testing.assert_close(
        bbox_overlaps(boxes1[:9], boxes2, mode="giou", is_aligned=True), expected[:9].diagonal()
    )


def test_iof_hand_computed():
    """IoF divides the intersection by the area of bboxes1 (the foreground)."""
    bboxes1 = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 4.0, 4.0]])
    bboxes2 = torch.tensor([[5.0, 0.0, 20.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    # intersections: [[50, 4], [0, 4]]; areas1: [100, 16]
    expected = torch.tensor([[0.5, 0.04], [0.0, 0.25]])
    torch.testing.assert_close(bbox_overlaps(bboxes1, bboxes2, mode="iof"), expected)
    torch.testing.assert_close(
        bbox_overlaps(bboxes1, bboxes2, mode="iof", is_aligned=True), torch.tensor([0.5, 0.25])
    )


def test_giou_hand_computed_for_disjoint_and_identical_boxes():
    box = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    far = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    # union 2, enclosing box 3 x 1 -> giou = 0 - (3 - 2) / 3
    torch.testing.assert_close(bbox_overlaps(box, far, mode="giou"), torch.tensor([[-1.0 / 3.0]]))
    torch.testing.assert_close(bbox_overlaps(box, box, mode="giou"), torch.tensor([[1.0]]))
    very_far = torch.tensor([[1000.0, 1000.0, 1001.0, 1001.0]])
    assert bbox_overlaps(box, very_far, mode="giou").item() == pytest.approx(-1.0, abs=1e-5)


def test_degenerate_boxes_give_zero_not_nan():
    """Zero-area boxes: torchvision's box_iou gives NaN (0/0); eps makes the result 0."""
    point = torch.tensor([[5.0, 5.0, 5.0, 5.0]])
    line = torch.tensor([[0.0, 5.0, 10.0, 5.0]])
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    for mode in ("iou", "iof", "giou"):
        for a, b in ((point, point), (point, line), (line, box), (box, point)):
            result = bbox_overlaps(a, b, mode=mode)
            assert torch.isfinite(result).all(), (mode, a, b)
    assert bbox_overlaps(point, point).item() == 0.0
    assert bbox_overlaps(box, point).item() == 0.0
    # point inside box: intersection 0, union 100, enclosing area 100 -> giou 0
    assert bbox_overlaps(point, box, mode="giou").item() == pytest.approx(0.0)
    # line below the box: union 100, enclosing 10 x 10 -> giou 0
    assert bbox_overlaps(
        torch.tensor([[0.0, 10.0, 10.0, 10.0]]), box, mode="giou"
    ).item() == pytest.approx(0.0)


def test_batch_dims_match_torchvision_per_slice():
    boxes1, boxes2 = random_boxes(5, 2, 3, seed=5), random_boxes(7, 2, 3, seed=6)
    for mode, reference in (("iou", tv_ops.box_iou), ("giou", tv_ops.generalized_box_iou)):
        overlaps = bbox_overlaps(boxes1, boxes2, mode=mode)
        assert overlaps.shape == (2, 3, 5, 7)
        for i in range(2):
            for j in range(3):
                torch.testing.assert_close(overlaps[i, j], reference(boxes1[i, j], boxes2[i, j]))
    aligned = bbox_overlaps(boxes1, boxes2[..., :5, :], is_aligned=True)
    assert aligned.shape == (2, 3, 5)
    torch.testing.assert_close(
        aligned[1, 2], tv_ops.box_iou(boxes1[1, 2], boxes2[1, 2, :5]).diagonal()
    )


@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("max_elements", [1, 7, 40])
def test_chunked_equals_unchunked(mode, max_elements):
    boxes1, boxes2 = random_boxes(23, 2, seed=7), random_boxes(6, 2, seed=8)
    unchunked = bbox_overlaps(boxes1, boxes2, mode=mode, max_elements=None)
    chunked = bbox_overlaps(boxes1, boxes2, mode=mode, max_elements=max_elements)
    torch.testing.assert_close(chunked, unchunked, rtol=0, atol=0)


def test_chunked_result_keeps_gradients():
    boxes1 = random_boxes(9, seed=9).requires_grad_(True)
    boxes2 = random_boxes(4, seed=10)
    (grad_chunked,) = torch.autograd.grad(
        bbox_overlaps(boxes1, boxes2, max_elements=5).sum(), boxes1
    )
    (grad_reference,) = torch.autograd.grad(tv_ops.box_iou(boxes1, boxes2).sum(), boxes1)
    torch.testing.assert_close(grad_chunked, grad_reference)


def test_aligned_giou_gradient_matches_torchvision_giou_loss():
    """1 - aligned GIoU is torchvision's generalized_box_iou_loss; gradients agree."""
    pred = random_boxes(8, seed=11).requires_grad_(True)
    target = random_boxes(8, seed=12)
    ours = (1 - bbox_overlaps(pred, target, mode="giou", is_aligned=True, eps=1e-7)).sum()
    reference = tv_ops.generalized_box_iou_loss(pred, target, reduction="sum", eps=1e-7)
    torch.testing.assert_close(ours, reference)
    (grad_ours,) = torch.autograd.grad(ours, pred)
    (grad_reference,) = torch.autograd.grad(reference, pred)
    torch.testing.assert_close(grad_ours, grad_reference)


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_is_safe_and_keeps_dtype(half):
    """1000-pixel boxes have areas (1e6) beyond float16's range; the result must stay finite."""
    boxes1 = random_boxes(10, seed=13, scale=2000.0)
    boxes2 = random_boxes(12, seed=14, scale=2000.0)
    for mode in ("iou", "iof", "giou"):
        result = bbox_overlaps(boxes1.to(half), boxes2.to(half), mode=mode)
        assert result.dtype == half
        assert torch.isfinite(result).all()
        reference = bbox_overlaps(boxes1.to(half).float(), boxes2.to(half).float(), mode=mode)
        torch.testing.assert_close(result.float(), reference, atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(
        bbox_overlaps(boxes1.half(), boxes2.half()).float(),
        tv_ops.box_iou(boxes1.half().float(), boxes2.half().float()),
        atol=1e-3,
        rtol=1e-3,
    )


def test_integer_boxes_give_float32():
    ints = SEED_BBOXES1.long()
    result = bbox_overlaps(ints, SEED_BBOXES2.int())
    assert result.dtype == torch.float32
    torch.testing.assert_close(result, tv_ops.box_iou(SEED_BBOXES1, SEED_BBOXES2))


def test_bad_arguments_have_clear_errors():
    boxes = random_boxes(3)
    with pytest.raises(ValueError, match="mode must be one of .* but got 'diou'"):
        bbox_overlaps(boxes, boxes, mode="diou")
    with pytest.raises(
        ValueError, match="is_aligned=True needs as many bboxes1 as bboxes2, but got 3 and 2"
    ):
        bbox_overlaps(boxes, boxes[:2], is_aligned=True)
    with pytest.raises(
        ValueError, match=r"same batch dimensions, but got shapes \(2, 3, 4\) and \(3, 3, 4\)"
    ):
        bbox_overlaps(random_boxes(3, 2), random_boxes(3, 3))
    with pytest.raises(
        ValueError, match=r"bboxes2 must have shape \(\.\.\., n, 4\), but got \(3, 5\)"
    ):
        bbox_overlaps(boxes, torch.zeros(3, 5))
    with pytest.raises(TypeError, match="bboxes1 must be a torch.Tensor, but got list"):
        bbox_overlaps([[0, 0, 1, 1]], boxes)


@pytest.mark.peer
@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
def test_matches_mmdet_bbox_overlaps(mmdet, mode):
    from mmdet.structures.bbox import bbox_overlaps as mmdet_bbox_overlaps

    boxes1, boxes2 = random_boxes(6, 2, seed=15), random_boxes(8, 2, seed=16)
    torch.testing.assert_close(
        bbox_overlaps(boxes1, boxes2, mode=mode), mmdet_bbox_overlaps(boxes1, boxes2, mode=mode)
    )
    torch.testing.assert_close(
        bbox_overlaps(boxes1, boxes2[:, :6], mode=mode, is_aligned=True),
        mmdet_bbox_overlaps(boxes1, boxes2[:, :6], mode=mode, is_aligned=True),
    )
