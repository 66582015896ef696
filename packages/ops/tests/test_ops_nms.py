"""NMS family against its references: torchvision.ops.nms / batched_nms, plain-Python
transcriptions of MMCV's soft_nms and nms_match loops and of MMDetection's multiclass_nms,
fast_nms and mask_matrix_nms, and the examples documented in MMCV's API reference."""

import math

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


def random_boxes(n, seed=0, dtype=torch.float32, size=200.0, max_side=60.0):
    """(n, 4) xyxy boxes and (n,) scores, crowded enough that NMS has work to do."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * size
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * max_side + 1
    boxes = torch.cat([xy, xy + wh], 1).to(dtype)
    scores = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return boxes, scores


# ----------------------------------------------------------------------------- nms


@pytest.mark.parametrize("n", [0, 1, 7, 300, 1200])
@pytest.mark.parametrize("iou_threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_matches_torchvision(backend, n, iou_threshold):
    boxes, scores = random_boxes(n, seed=n)
    keep = detops.nms(boxes, scores, iou_threshold)
    assert keep.dtype == torch.int64
    assert torch.equal(keep, torchvision.ops.nms(boxes, scores, iou_threshold))


def test_nms_ties_keep_index_order_like_torchvision(backend):
    boxes, _ = random_boxes(500, seed=1)
    scores = torch.randint(0, 4, (500,), generator=torch.Generator().manual_seed(2)).float()
    keep = detops.nms(boxes, scores, 0.5)
    assert torch.equal(keep, torchvision.ops.nms(boxes, scores, 0.5))
    # equal scores come out in index order
    tied = keep[scores[keep] == scores[keep[0]]]
    assert torch.equal(tied, tied.sort().values)


def test_nms_degenerate_and_identical_boxes_match_torchvision(backend):
    boxes, scores = random_boxes(200, seed=3)
    boxes[::7, 2] = boxes[::7, 0]  # zero width
    boxes[1::9, 3] = boxes[1::9, 1] - 5  # y2 < y1
    boxes[2::11] = boxes[2]  # identical boxes
    boxes[5] = torch.tensor([3.0, 3.0, 3.0, 3.0])  # a point, twice (0/0 IoU)
    boxes[6] = boxes[5]
    keep = detops.nms(boxes, scores, 0.5)
    assert torch.equal(keep, torchvision.ops.nms(boxes, scores, 0.5))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_nms_half_precision_is_compared_in_float32(backend, dtype):
    boxes, scores = random_boxes(400, seed=4, dtype=dtype)
    keep = detops.nms(boxes, scores, 0.5)
    assert torch.equal(keep, torchvision.ops.nms(boxes.float(), scores.float(), 0.5))


def test_nms_float64_matches_torchvision(backend):
    boxes, scores = random_boxes(400, seed=5, dtype=torch.float64)
    assert torch.equal(detops.nms(boxes, scores, 0.45), torchvision.ops.nms(boxes, scores, 0.45))


def test_nms_documented_example_keeps_three_boxes(backend):
    # mmcv.ops.nms's docstring example: iou_threshold 0.6 keeps 3 of these 7 boxes
    boxes = torch.tensor([[49.1, 32.4, 51.0, 35.9], [49.3, 32.9, 51.0, 35.3],
                          [49.2, 31.8, 51.0, 35.4], [35.1, 11.5, 39.1, 15.7],
                          [35.6, 11.8, 39.3, 14.2], [35.3, 11.5, 39.9, 14.5],
                          [35.2, 11.7, 39.7, 15.7]])
    scores = torch.tensor([0.9, 0.9, 0.5, 0.5, 0.5, 0.4, 0.3])
    assert len(detops.nms(boxes, scores, 0.6)) == 3


def test_nms_accepts_non_contiguous_inputs(backend):
    boxes, scores = random_boxes(100, seed=6)
    dets = torch.cat([boxes, scores[:, None]], 1)
    boxes, scores = dets[:, :4], dets[:, 4]
    assert not boxes.is_contiguous() and not scores.is_contiguous()
    assert torch.equal(detops.nms(boxes, scores, 0.5),
                       torchvision.ops.nms(boxes.contiguous(), scores.contiguous(), 0.5))


def test_nms_kernel_rejects_non_contiguous_boxes():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")
    boxes = torch.rand(10, 8)[:, ::2]
    with pytest.raises(RuntimeError, match="boxes and scores must be contiguous"):
        torch.ops.detops.nms(boxes, torch.rand(10), 0.5)


@pytest.mark.parametrize(("boxes", "scores", "error", "message"), [
    (torch.rand(5, 5), torch.rand(5), ValueError, r"boxes must have shape \(N, 4\), got \(5, 5\)"),
    (torch.rand(5, 4), torch.rand(5, 1), ValueError, r"scores must have shape \(N,\), got \(5, 1\)"),
    (torch.rand(5, 4), torch.rand(4), ValueError, "boxes has 5, scores has 4"),
    (torch.ones(5, 4, dtype=torch.int64), torch.rand(5), TypeError,
     "boxes must be a floating point tensor, got torch.int64"),
    ([[0, 0, 1, 1]], torch.rand(1), TypeError, "boxes must be a torch.Tensor, got list"),
    (torch.rand(5, 4), torch.rand(5, device="meta"), ValueError,
     "all tensors must be on the same device, got boxes on cpu, scores on meta"),
])
def test_nms_rejects_bad_input_with_a_clear_message(boxes, scores, error, message):
    with pytest.raises(error, match=message):
        detops.nms(boxes, scores, 0.5)


def test_nms_exports_with_torch_export():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")

    class KeepBoxes(torch.nn.Module):
        def forward(self, boxes, scores):
            return detops.nms(boxes, scores, 0.5)

    boxes, scores = random_boxes(50, seed=7)
    program = torch.export.export(KeepBoxes(), (boxes, scores))
    assert "detops.nms" in str(program.graph)
    assert torch.equal(program.module()(boxes, scores), torchvision.ops.nms(boxes, scores, 0.5))


# ----------------------------------------------------------------------------- batched_nms


def random_classes(n, num_classes, seed):
    return torch.randint(0, num_classes, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n", [0, 1, 200, 1500])
def test_batched_nms_matches_torchvision(backend, n):
    # float64 scores drawn at random have no ties, so the order is fully determined
    boxes, scores = random_boxes(n, seed=10 + n, dtype=torch.float64)
    idxs = random_classes(n, 5, seed=n)
    keep = detops.batched_nms(boxes, scores, idxs, 0.5)
    assert torch.equal(keep, torchvision.ops.batched_nms(boxes, scores, idxs, 0.5))


def test_batched_nms_with_tied_scores_keeps_torchvisions_boxes(backend):
    boxes, _ = random_boxes(2000, seed=11)
    scores = torch.randint(0, 5, (2000,), generator=torch.Generator().manual_seed(1)).float()
    idxs = random_classes(2000, 80, seed=2)
    keep = detops.batched_nms(boxes, scores, idxs, 0.5)
    expected = torchvision.ops.batched_nms(boxes, scores, idxs, 0.5)
    assert sorted(keep.tolist()) == sorted(expected.tolist())
    # descending score, equal scores in index order
    order = sorted(keep.tolist(), key=lambda i: (-scores[i].item(), i))
    assert keep.tolist() == order


def test_batched_nms_never_suppresses_across_classes(backend):
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = box.repeat(4, 1)
    keep = detops.batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7, 0.6]),
                              torch.tensor([0, 1, 0, 2]), 0.5)
    assert keep.tolist() == [0, 1, 3]


def test_batched_nms_rejects_float_idxs():
    boxes, scores = random_boxes(4)
    with pytest.raises(TypeError, match="idxs must be an integer tensor, got torch.float32"):
        detops.batched_nms(boxes, scores, torch.zeros(4), 0.5)


# ----------------------------------------------------------------------------- soft_nms


def mmcv_soft_nms(boxes, scores, iou_threshold, sigma, min_score, method, offset=0):
    """A line-by-line transcription of MMCV's CPU soft-NMS loop (swap-based), in Python."""
    b = boxes.tolist()
    sc = scores.tolist()
    inds = list(range(len(b)))
    area = [(x2 - x1 + offset) * (y2 - y1 + offset) for x1, y1, x2, y2 in b]
    n = len(b)
    dets = []
    i = 0
    while i < n:
        best = max(range(i, n), key=lambda k: (sc[k], -k))  # first maximum
        for arr in (b, sc, area, inds):
            arr[i], arr[best] = arr[best], arr[i]
        dets.append(b[i] + [sc[i]])
        pos = i + 1
        while pos < n:
            w = max(0.0, min(b[i][2], b[pos][2]) - max(b[i][0], b[pos][0]) + offset)
            h = max(0.0, min(b[i][3], b[pos][3]) - max(b[i][1], b[pos][1]) + offset)
            inter = w * h
            union = area[i] + area[pos] - inter
            ovr = inter / union if union != 0 else math.nan
            weight = 1.0
            if method == "naive" and ovr >= iou_threshold:
                weight = 0.0
            elif method == "linear" and ovr >= iou_threshold:
                weight = 1 - ovr
            elif method == "gaussian":
                weight = math.exp(-(ovr * ovr) / sigma)
            sc[pos] *= weight
            if sc[pos] < min_score:
                for arr in (b, sc, area, inds):
                    arr[pos] = arr[n - 1]
                n -= 1
                pos -= 1
            pos += 1
        i += 1
    return torch.tensor(dets, dtype=torch.float64).reshape(-1, 5), torch.tensor(inds[:n])


@pytest.mark.parametrize("method", ["linear", "gaussian", "naive"])
@pytest.mark.parametrize("n", [0, 1, 150])
def test_soft_nms_matches_mmcv_loop(backend, method, n):
    boxes, scores = random_boxes(n, seed=20 + n, dtype=torch.float64)
    dets, keep = detops.soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=0.05,
                                 method=method)
    expected_dets, expected_keep = mmcv_soft_nms(boxes, scores, 0.3, 0.5, 0.05, method)
    assert torch.equal(keep, expected_keep)
    torch.testing.assert_close(dets, expected_dets)


def test_soft_nms_offset_one_matches_mmcv_loop(backend):
    boxes, scores = random_boxes(80, seed=21, dtype=torch.float64)
    dets, keep = detops.soft_nms(boxes.round(), scores, 0.3, min_score=0.1, offset=1)
    expected_dets, expected_keep = mmcv_soft_nms(boxes.round(), scores, 0.3, 0.5, 0.1, "linear", 1)
    assert torch.equal(keep, expected_keep)
    torch.testing.assert_close(dets, expected_dets)


def test_soft_nms_documented_example_keeps_five(backend):
    # mmcv.ops.soft_nms's docstring example
    boxes = torch.tensor([[4.0, 3.0, 5.0, 3.0], [4.0, 3.0, 5.0, 4.0], [3.0, 1.0, 3.0, 1.0],
                          [3.0, 1.0, 3.0, 1.0], [3.0, 1.0, 3.0, 1.0], [3.0, 1.0, 3.0, 1.0]])
    scores = torch.tensor([0.9, 0.9, 0.5, 0.5, 0.4, 0.0])
    dets, keep = detops.soft_nms(boxes, scores, 0.6, sigma=0.5)
    assert len(dets) == len(keep) == 5


def test_soft_nms_half_precision_returns_input_dtype(backend):
    boxes, scores = random_boxes(60, seed=22)
    dets, keep = detops.soft_nms(boxes.half(), scores.half(), 0.3, min_score=0.05)
    expected_dets, expected_keep = mmcv_soft_nms(boxes.half().float(), scores.half().float(), 0.3,
                                                 0.5, 0.05, "linear")
    assert dets.dtype == torch.float16
    assert torch.equal(keep, expected_keep)
    torch.testing.assert_close(dets.float(), expected_dets.float(), atol=2e-2, rtol=2e-3)


def test_soft_nms_rejects_unknown_method():
    boxes, scores = random_boxes(3)
    with pytest.raises(ValueError, match=r"method must be one of \['gaussian', 'linear', "
                                         r"'naive'\], got 'hard'"):
        detops.soft_nms(boxes, scores, method="hard")


# ----------------------------------------------------------------------------- nms_match


def mmcv_nms_match(dets, iou_threshold):
    """Plain-Python transcription of MMCV's nms_match loop."""
    order = sorted(range(len(dets)), key=lambda i: -dets[i, 4].item())
    d = dets.tolist()
    area = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2, _ in d]
    suppressed = [False] * len(d)
    groups = []
    for a, i in enumerate(order):
        if suppressed[i]:
            continue
        group = [i]
        for j in order[a + 1:]:
            if suppressed[j]:
                continue
            w = max(0.0, min(d[i][2], d[j][2]) - max(d[i][0], d[j][0]))
            h = max(0.0, min(d[i][3], d[j][3]) - max(d[i][1], d[j][1]))
            inter = w * h
            if inter / (area[i] + area[j] - inter) >= iou_threshold:
                suppressed[j] = True
                group.append(j)
        groups.append(group)
    return groups


@pytest.mark.parametrize("n", [1, 40, 300])
def test_nms_match_matches_mmcv_loop(backend, n):
    boxes, scores = random_boxes(n, seed=30 + n, dtype=torch.float64)
    dets = torch.cat([boxes, scores[:, None]], 1)
    groups = detops.nms_match(dets, 0.4)
    assert [g.tolist() for g in groups] == mmcv_nms_match(dets, 0.4)
    assert all(g.dtype == torch.int64 for g in groups)


def test_nms_match_of_nothing_is_an_empty_list(backend):
    assert detops.nms_match(torch.empty(0, 5), 0.5) == []


def test_nms_match_rejects_boxes_without_scores():
    with pytest.raises(ValueError, match=r"dets must have shape \(N, 5\), got \(3, 4\)"):
        detops.nms_match(torch.rand(3, 4), 0.5)


# ----------------------------------------------------------------------------- multiclass_nms


def mmdet_multiclass_nms(multi_bboxes, multi_scores, score_thr, iou_threshold, max_num=-1,
                         score_factors=None):
    """MMDetection's multiclass_nms written out with torchvision's batched_nms."""
    num_classes = multi_scores.size(1) - 1
    if multi_bboxes.shape[1] > 4:
        bboxes = multi_bboxes.view(multi_scores.size(0), -1, 4)
    else:
        bboxes = multi_bboxes[:, None].expand(multi_scores.size(0), num_classes, 4)
    scores = multi_scores[:, :-1]
    labels = torch.arange(num_classes).view(1, -1).expand_as(scores)
    bboxes, scores, labels = bboxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
    valid = scores > score_thr
    if score_factors is not None:
        scores = scores * score_factors.view(-1, 1).expand(-1, num_classes).reshape(-1)
    inds = valid.nonzero().squeeze(1)
    bboxes, scores, labels = bboxes[inds], scores[inds], labels[inds]
    keep = torchvision.ops.batched_nms(bboxes, scores, labels, iou_threshold)
    if max_num > 0:
        keep = keep[:max_num]
    return torch.cat([bboxes[keep], scores[keep, None]], 1), labels[keep], inds[keep]


def detections(n, num_classes, class_specific, seed):
    boxes, _ = random_boxes(n * (num_classes if class_specific else 1), seed=seed,
                            dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, num_classes + 1, generator=g, dtype=torch.float64)
    return boxes.reshape(n, -1), scores


@pytest.mark.parametrize("class_specific", [False, True])
@pytest.mark.parametrize("max_num", [-1, 20])
def test_multiclass_nms_matches_mmdetection(backend, class_specific, max_num):
    multi_bboxes, multi_scores = detections(150, 6, class_specific, seed=40)
    factors = torch.rand(150, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    dets, labels, inds = detops.multiclass_nms(multi_bboxes, multi_scores, 0.3,
                                               dict(type="nms", iou_threshold=0.5), max_num,
                                               score_factors=factors, return_inds=True)
    expected = mmdet_multiclass_nms(multi_bboxes, multi_scores, 0.3, 0.5, max_num, factors)
    torch.testing.assert_close(dets, expected[0])
    assert torch.equal(labels, expected[1])
    assert torch.equal(inds, expected[2])


def test_multiclass_nms_with_no_box_above_threshold_is_empty(backend):
    multi_bboxes, multi_scores = detections(10, 3, False, seed=41)
    dets, labels = detops.multiclass_nms(multi_bboxes, multi_scores, 2.0, dict(iou_threshold=0.5))
    assert dets.shape == (0, 5) and labels.shape == (0,)


def test_multiclass_nms_nms_pre_keeps_the_top_candidates(backend):
    multi_bboxes, multi_scores = detections(100, 4, False, seed=42)
    dets, labels = detops.multiclass_nms(multi_bboxes, multi_scores, 0.0,
                                         dict(type="nms", iou_threshold=0.5), nms_pre=30)
    top30 = multi_scores[:, :-1].reshape(-1).topk(30).values
    assert len(dets) <= 30
    assert set(dets[:, 4].tolist()) <= set(top30.tolist())


def test_multiclass_nms_class_agnostic_suppresses_across_classes(backend):
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    scores = torch.tensor([[0.9, 0.8, 0.0]])  # two classes + background, one box
    agnostic = dict(type="nms", iou_threshold=0.5, class_agnostic=True)
    assert len(detops.multiclass_nms(box, scores, 0.1, agnostic)[0]) == 1
    assert len(detops.multiclass_nms(box, scores, 0.1, dict(iou_threshold=0.5))[0]) == 2


def test_multiclass_nms_soft_nms_matches_per_class_mmcv_loop(backend):
    multi_bboxes, multi_scores = detections(60, 3, False, seed=43)
    cfg = dict(type="soft_nms", iou_threshold=0.3, min_score=0.05)
    dets, labels = detops.multiclass_nms(multi_bboxes, multi_scores, 0.2, cfg)
    expected = []
    for c in range(3):
        members = torch.where(multi_scores[:, c] > 0.2)[0]
        class_dets, _ = mmcv_soft_nms(multi_bboxes[members], multi_scores[members, c], 0.3, 0.5,
                                      0.05, "linear")
        expected += [(row.tolist(), c) for row in class_dets]
    expected.sort(key=lambda item: -item[0][4])
    torch.testing.assert_close(dets, torch.tensor([e[0] for e in expected], dtype=torch.float64))
    assert labels.tolist() == [e[1] for e in expected]


def test_multiclass_nms_rejects_unknown_cfg_keys():
    multi_bboxes, multi_scores = detections(5, 2, False, seed=44)
    with pytest.raises(ValueError, match=r"nms_cfg has unknown keys \['iou_thr'\]"):
        detops.multiclass_nms(multi_bboxes, multi_scores, 0.1,
                              dict(type="nms", iou_threshold=0.5, iou_thr=0.5))
    with pytest.raises(ValueError, match=r"multi_bboxes must have shape \(N, 4\) or \(N, 8\)"):
        detops.multiclass_nms(multi_bboxes[:, :3], multi_scores, 0.1, dict(iou_threshold=0.5))


# ----------------------------------------------------------------------------- fast / matrix


def yolact_fast_nms(multi_bboxes, multi_scores, multi_coeffs, score_thr, iou_thr, top_k, max_num):
    """MMDetection's fast_nms written out with torchvision's box_iou."""
    scores, idx = multi_scores[:, :-1].t().sort(1, descending=True)
    idx, scores = idx[:, :top_k].contiguous(), scores[:, :top_k]
    num_classes, num_dets = idx.size()
    boxes = multi_bboxes[idx.view(-1)].view(num_classes, num_dets, 4)
    coeffs = multi_coeffs[idx.view(-1)].view(num_classes, num_dets, -1)
    iou = torch.stack([torchvision.ops.box_iou(b, b) for b in boxes]).triu(1)
    keep = (iou.max(dim=1)[0] <= iou_thr) & (scores > score_thr)
    classes = torch.arange(num_classes)[:, None].expand_as(keep)[keep]
    boxes, coeffs, scores = boxes[keep], coeffs[keep], scores[keep]
    scores, idx = scores.sort(0, descending=True)
    idx, scores = idx[:max_num], scores[:max_num]
    return torch.cat([boxes[idx], scores[:, None]], 1), classes[idx], coeffs[idx]


def test_fast_nms_matches_yolact_reference(backend):
    multi_bboxes, multi_scores = detections(120, 5, False, seed=50)
    coeffs = torch.randn(120, 8, dtype=torch.float64)
    got = detops.fast_nms(multi_bboxes, multi_scores, coeffs, 0.2, 0.5, top_k=40, max_num=30)
    expected = yolact_fast_nms(multi_bboxes, multi_scores, coeffs, 0.2, 0.5, 40, 30)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)


def solov2_matrix_nms(masks, labels, scores, kernel, sigma):
    """SOLOv2's matrix NMS decay, one mask pair at a time (plain Python loops)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i].item())
    flat = masks.reshape(len(masks), -1).double()
    decayed = []
    for rank, j in enumerate(order):
        higher = order[:rank]

        def iou(a, b):
            inter = (flat[a] * flat[b]).sum()
            return (inter / (flat[a].sum() + flat[b].sum() - inter)).item()

        def compensation(i):
            # how much higher-ranked mask i was itself overlapped by its own betters
            above = order[:order.index(i)]
            return max([iou(k, i) for k in above if labels[k] == labels[i]], default=0.0)

        factor = 1.0
        for i in higher:
            if labels[i] != labels[j]:
                d, c = 0.0, compensation(i)
            else:
                d, c = iou(i, j), compensation(i)
            if kernel == "gaussian":
                factor = min(factor, math.exp(-sigma * d * d) / math.exp(-sigma * c * c))
            else:
                factor = min(factor, (1 - d) / (1 - c))
        decayed.append((scores[j].item() * factor, j))
    return sorted(decayed, key=lambda item: -item[0])


@pytest.mark.parametrize("kernel", ["gaussian", "linear"])
def test_matrix_nms_matches_solov2_reference(kernel):
    g = torch.Generator().manual_seed(60)
    masks = torch.rand(12, 16, 16, generator=g) > 0.5
    masks[3] = masks[2]  # a duplicate that must be decayed strongly
    labels = torch.randint(0, 3, (12,), generator=g)
    scores = torch.rand(12, generator=g, dtype=torch.float64)
    got_scores, got_labels, got_masks, keep = detops.matrix_nms(masks, labels, scores,
                                                                kernel=kernel, sigma=2.0)
    expected = solov2_matrix_nms(masks, labels, scores, kernel, 2.0)
    torch.testing.assert_close(got_scores, torch.tensor([e[0] for e in expected],
                                                        dtype=torch.float64))
    assert keep.tolist() == [e[1] for e in expected]
    assert torch.equal(got_labels, labels[keep]) and torch.equal(got_masks, masks[keep])


def test_matrix_nms_filter_and_limits():
    g = torch.Generator().manual_seed(61)
    masks = torch.rand(10, 8, 8, generator=g) > 0.5
    labels = torch.zeros(10, dtype=torch.int64)
    scores = torch.rand(10, generator=g)
    all_scores, _, _, all_keep = detops.matrix_nms(masks, labels, scores)
    filtered, _, _, keep = detops.matrix_nms(masks, labels, scores, filter_thr=0.3, max_num=3)
    assert torch.equal(filtered, all_scores[all_scores >= 0.3][:3])
    assert torch.equal(keep, all_keep[all_scores >= 0.3][:3])
    nothing = detops.matrix_nms(masks, labels, scores, filter_thr=2.0)
    assert [t.shape[0] for t in nothing] == [0, 0, 0, 0] and nothing[2].shape == (0, 8, 8)


@pytest.mark.filterwarnings("ignore")
def test_nms_and_batched_nms_export_to_onnx_as_non_max_suppression():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")
    import io

    import numpy as np
    import onnxruntime

    class KeepBoxes(torch.nn.Module):
        def forward(self, boxes, scores, idxs):
            return detops.nms(boxes, scores, 0.5), detops.batched_nms(boxes, scores, idxs, 0.5)

    boxes, scores = random_boxes(1200, seed=8)
    idxs = random_classes(1200, 4, seed=8)
    buffer = io.BytesIO()
    torch.onnx.export(KeepBoxes(), (boxes, scores, idxs), buffer, dynamo=False,
                      opset_version=17, input_names=["boxes", "scores", "idxs"],
                      dynamic_axes={name: {0: "n"} for name in ("boxes", "scores", "idxs")})
    assert b"NonMaxSuppression" in buffer.getvalue()
    session = onnxruntime.InferenceSession(buffer.getvalue())
    for n in (1200, 40):  # another size than the one traced
        inputs = {"boxes": boxes[:n].numpy(), "scores": scores[:n].numpy(),
                  "idxs": idxs[:n].numpy()}
        keep, batched_keep = session.run(None, inputs)
        assert np.array_equal(keep, torchvision.ops.nms(boxes[:n], scores[:n], 0.5).numpy())
        expected = torchvision.ops.batched_nms(boxes[:n], scores[:n], idxs[:n], 0.5)
        assert np.array_equal(batched_keep, expected.numpy())
