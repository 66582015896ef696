"""detdatasets.evaluation.coco_evaluate against pycocotools' COCOeval on random synthetic data.

Every case is generated here with a fixed seed and holds the situations COCOeval has
rules for: crowd regions, empty images, images without detections, detections on images
without ground truth, a category without ground truth, ties in score and in IoU, more
than 100 detections on an image, annotation areas that differ from the box area, and
objects of every size. The reference is pycocotools itself (evaluate, accumulate,
summarize); faster-coco-eval is checked as a second opinion.
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detdatasets.evaluation import CocoEvalParams, coco_evaluate, evaluate_coco

CAT_IDS = [1, 3, 7, 8, 20]  # not contiguous; 20 never gets ground truth


def make_case(seed: int, num_images: int = 12, iou_type: str = "bbox", size: tuple[int, int] = (64, 48)):
    """A COCO ground-truth dict and results list exercising COCOeval's special cases."""
    rng = np.random.default_rng(seed)
    w, h = size
    images = [dict(id=100 + 3 * i, width=w, height=h, file_name=f"{i}.jpg") for i in range(num_images)]
    annotations, results = [], []
    scale = w / 64

    def random_boxes(n):
        # sizes spread over small (< 32^2), medium and large (> 96^2) once scaled up
        bw = np.exp(rng.uniform(np.log(1.5), np.log(w * 0.9), n))
        bh = np.exp(rng.uniform(np.log(1.5), np.log(h * 0.9), n))
        x = rng.uniform(0, w - bw)
        y = rng.uniform(0, h - bh)
        return np.round(np.stack([x, y, bw, bh], 1), 1)

    for i, img in enumerate(images):
        kind = i % 6  # 0: empty image, 1: no detections, 2: detections only, others: both
        num_gt = 0 if kind in (0, 2) else int(rng.integers(1, 9))
        boxes = random_boxes(num_gt)
        if num_gt >= 2 and rng.random() < 0.5:
            boxes[1] = boxes[0]  # identical gts: equal IoUs, pycocotools keeps the last
        cats = rng.choice(CAT_IDS[:-1], num_gt)
        for box, cat in zip(boxes, cats):
            crowd = int(rng.random() < 0.15)
            ann = dict(
                id=len(annotations) + 1,
                image_id=img["id"],
                category_id=int(cat),
                bbox=box.tolist(),
                area=float(box[2] * box[3] * rng.uniform(0.5, 1.0) * scale**2 * 9),
                iscrowd=crowd,
            )
            if iou_type == "segm":
                ann["segmentation"] = _gt_segmentation(rng, box, crowd, h, w)
                ann["area"] = float(mask_utils.area(_to_rle(ann["segmentation"], h, w)) * (1 + 9 * rng.random()))
            annotations.append(ann)
        if kind == 1:
            continue
        num_det = 130 if i == 3 else int(rng.integers(0, 25))
        near = rng.integers(0, max(num_gt, 1), num_det)
        det_boxes = random_boxes(num_det)
        det_cats = rng.choice(CAT_IDS, num_det)
        if num_gt:
            use_gt = rng.random(num_det) < 0.7
            jitter = rng.normal(0, 0.12, (num_det, 4)) * np.tile(boxes[near, 2:], 2)
            det_boxes[use_gt] = np.round(boxes[near][use_gt] + jitter[use_gt], 1)
            same_cat = use_gt & (rng.random(num_det) < 0.85)
            det_cats[same_cat] = cats[near][same_cat]
            det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], 0.5)
        if num_det:
            det_boxes[0, 2] = 0.0  # a degenerate box
        scores = np.round(rng.random(num_det), 1)  # many ties
        for box, cat, score in zip(det_boxes, det_cats, scores):
            result = dict(image_id=img["id"], category_id=int(cat), score=float(score))
            if iou_type == "segm":
                result["segmentation"] = _det_rle(rng, box, h, w)
            else:
                result["bbox"] = box.tolist()
            results.append(result)
    categories = [dict(id=c, name=f"cat{c}") for c in CAT_IDS]
    return dict(images=images, annotations=annotations, categories=categories), results


def _gt_segmentation(rng, box, crowd, h, w):
    x, y, bw, bh = box
    if crowd:  # crowd regions come as uncompressed RLE in COCO
        mask = np.zeros((h, w), np.uint8, order="F")
        mask[int(y) : int(np.ceil(y + bh)), int(x) : int(np.ceil(x + bw))] = 1
        rle = mask_utils.encode(mask)
        return dict(counts=_uncompress(mask), size=rle["size"])
    if rng.random() < 0.3:  # compressed RLE
        rle = mask_utils.encode(np.asfortranarray(_ellipse(box, h, w)))
        return dict(counts=rle["counts"].decode(), size=rle["size"])
    cx, cy = x + bw / 2, y + bh / 2
    angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
    polygon = np.stack([cx + bw / 2 * np.cos(angles), cy + bh / 2 * np.sin(angles)], 1)
    return [np.round(polygon.ravel(), 2).tolist()]


def _det_rle(rng, box, h, w):
    mask = _ellipse(box, h, w) if rng.random() < 0.5 else _rect(box, h, w)
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(counts=rle["counts"].decode(), size=rle["size"])


def _ellipse(box, h, w):
    x, y, bw, bh = box
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    return ((((xx - x - bw / 2) / max(bw / 2, 0.5)) ** 2 + ((yy - y - bh / 2) / max(bh / 2, 0.5)) ** 2) <= 1).astype(np.uint8)


def _rect(box, h, w):
    x, y, bw, bh = box
    mask = np.zeros((h, w), np.uint8)
    mask[int(y) : int(np.ceil(y + bh)), int(x) : int(np.ceil(x + bw))] = 1
    return mask


def _uncompress(mask):
    flat = mask.ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.r_[0, change, len(flat)]
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0] + runs


def _to_rle(segm, h, w):
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm["counts"], list):
        return mask_utils.frPyObjects(segm, h, w)
    return segm


def pycocotools_eval(gt, dets, iou_type="bbox", **params):
    """The reference: pycocotools COCOeval with the same parameters."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), iou_type)
        for name, value in params.items():
            setattr(evaluator.params, _PYCOCO_NAMES[name], value)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


_PYCOCO_NAMES = dict(
    img_ids="imgIds", cat_ids="catIds", iou_thrs="iouThrs", max_dets="maxDets",
    area_ranges="areaRng", area_labels="areaRngLbl", use_cats="useCats",
)  # fmt: skip


def assert_same_as_pycocotools(gt, dets, iou_type="bbox", **params):
    reference = pycocotools_eval(gt, dets, iou_type, **params)
    ours = evaluate_coco(gt, dets, iou_type, CocoEvalParams(**params))
    np.testing.assert_allclose(ours.stats, reference.stats, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.precision, reference.eval["precision"])
    np.testing.assert_array_equal(ours.recall, reference.eval["recall"])
    np.testing.assert_array_equal(ours.scores, reference.eval["scores"])
    return ours, reference


@pytest.mark.parametrize("seed", range(8))
def test_bbox_stats_match_pycocotools(seed):
    gt, dets = make_case(seed)
    ours, _ = assert_same_as_pycocotools(gt, dets)
    assert ours.stats[0] > 0  # the case is not trivially empty


@pytest.mark.parametrize("seed", range(3))
def test_segm_stats_match_pycocotools(seed):
    gt, dets = make_case(100 + seed, num_images=8, iou_type="segm")
    ours, _ = assert_same_as_pycocotools(gt, dets, "segm")
    assert ours.stats[0] > 0


def test_segm_with_more_than_255_mask_results():
    # pycocotools.mask.area() fails on more than 255 RLEs in one call under NumPy 2
    gt, dets = make_case(104, num_images=24, iou_type="segm")
    assert len(dets) > 255
    assert_same_as_pycocotools(gt, dets, "segm")


def test_segm_results_with_boxes_take_the_box_area_like_loadres():
    # loadRes takes the area from the box when the first result has one
    gt, dets = make_case(7, num_images=8, iou_type="segm")
    for det in dets:
        det["bbox"] = mask_utils.toBbox(det["segmentation"]).tolist()
        det["bbox"][2] += 3.0
    assert_same_as_pycocotools(gt, dets, "segm")


def test_class_agnostic_proposals_match_pycocotools():
    # CocoMetric's 'proposal' metric: useCats=0 and maxDets=(100, 300, 1000)
    gt, dets = make_case(11, num_images=10)
    ours, _ = assert_same_as_pycocotools(gt, dets, use_cats=0, max_dets=[100, 300, 1000])
    assert ours.precision.shape[2] == 1


@pytest.mark.parametrize(
    "params",
    [
        dict(max_dets=[1, 5, 20]),
        dict(max_dets=[100, 1, 10]),  # MMYOLO's proposal_nums; COCOeval sorts them
        dict(img_ids=[103, 109, 112, 118, 999]),  # a subset, and an id with nothing
        dict(cat_ids=[7, 1, 20]),
        dict(iou_thrs=np.array([0.5, 0.75])),
        dict(iou_thrs=np.array([0.3, 1.0])),  # 1.0 becomes 1 - 1e-10 in COCOeval
        dict(area_ranges=[[0, 1e10], [0, 400], [400, 1e10]], area_labels=["all", "small", "large"]),
    ],
    ids=["max_dets", "unsorted_max_dets", "img_ids", "cat_ids", "two_ious", "extreme_ious", "areas"],
)
def test_parameters_match_pycocotools(params):
    gt, dets = make_case(21, num_images=10)
    assert_same_as_pycocotools(gt, dets, **params)


def test_annotation_ignore_flag_is_overridden_by_iscrowd_like_pycocotools():
    gt, dets = make_case(3)
    for ann in gt["annotations"][::2]:
        ann["ignore"] = 1  # pycocotools replaces `ignore` by `iscrowd`
    assert_same_as_pycocotools(gt, dets)


def test_missing_iscrowd_counts_as_zero():
    # pycocotools raises KeyError here; we read a missing iscrowd as 0
    gt, dets = make_case(3)
    without = copy.deepcopy(gt)
    for ann in without["annotations"]:
        if ann["iscrowd"] == 0:
            del ann["iscrowd"]
    np.testing.assert_allclose(coco_evaluate(without, dets), pycocotools_eval(gt, dets).stats, rtol=0, atol=1e-9)


def test_annotation_id_zero_reads_as_unmatched_like_pycocotools():
    # COCOeval records a match by the gt's id, so a match to id 0 counts as a false positive
    gt, dets = make_case(4)
    baseline = pycocotools_eval(gt, dets).stats
    renamed = copy.deepcopy(gt)
    renamed["annotations"][6]["id"] = 0  # a non-crowd gt that some detection matches
    ours, reference = assert_same_as_pycocotools(renamed, dets)
    assert reference.stats[0] < baseline[0]  # the quirk is exercised


def test_results_and_ground_truth_from_json_files(tmp_path):
    import json

    gt, dets = make_case(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    stats = coco_evaluate(str(tmp_path / "gt.json"), tmp_path / "dets.json")
    np.testing.assert_allclose(stats, pycocotools_eval(gt, dets).stats, rtol=0, atol=1e-9)


def test_stats_match_faster_coco_eval():
    faster_coco_eval = pytest.importorskip("faster_coco_eval")
    gt, dets = make_case(9)
    coco = faster_coco_eval.COCO(copy.deepcopy(gt))
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = faster_coco_eval.COCOeval_faster(coco, coco.loadRes(copy.deepcopy(dets)), "bbox", print_function=print)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    np.testing.assert_allclose(coco_evaluate(gt, dets), evaluator.stats[:12], rtol=0, atol=1e-9)


def test_summary_prints_the_pycocotools_table():
    gt, dets = make_case(2)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        start = printed.tell()
        evaluator.summarize()
    expected = printed.getvalue()[start:].strip("\n")
    assert evaluate_coco(gt, dets).summary() == expected


def test_no_detections_give_zero_ap_and_no_ground_truth_gives_minus_one():
    gt, dets = make_case(1)
    stats = coco_evaluate(gt, [])
    assert stats[0] == 0.0 and stats[8] == 0.0
    gt["annotations"] = []
    assert coco_evaluate(gt, dets) == [-1.0] * 12
