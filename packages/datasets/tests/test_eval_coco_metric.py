"""CocoMetric end to end: data samples in, MMDetection's metric keys out, checked against
pycocotools' COCOeval run on the equivalent COCO results (set up as MMDetection sets it:
catIds from the dataset classes, maxDets = proposal_nums, rounding to 3 decimals)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detcore.structures import DetDataSample, InstanceData
from detdatasets.evaluation import CocoMetric

H, W = 30, 40
CATEGORIES = [dict(id=9, name="b"), dict(id=5, name="a"), dict(id=11, name="c")]  # file order: b, a, c
CLASSES = ("a", "b")  # as in MMDetection, label i is the i-th of these in file order: 0 -> b (9), 1 -> a (5)


def rect_polygon(x1, y1, x2, y2):
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def ann(ann_id, image_id, cat, box, crowd=0):
    x1, y1, x2, y2 = box
    return dict(
        id=ann_id, image_id=image_id, category_id=cat, bbox=[x1, y1, x2 - x1, y2 - y1],
        area=float((x2 - x1) * (y2 - y1)) * 0.9, iscrowd=crowd, segmentation=rect_polygon(*box),
    )  # fmt: skip


GROUND_TRUTH = dict(
    images=[dict(id=i, width=W, height=H, file_name=f"{i}.jpg") for i in (1, 2, 3)],
    categories=CATEGORIES,
    annotations=[
        ann(1, 1, 9, [2, 2, 12, 10]),
        ann(2, 1, 5, [20, 5, 36, 25]),
        ann(3, 1, 5, [0, 15, 8, 29], crowd=1),
        ann(4, 2, 9, [5, 5, 30, 28]),
        ann(5, 2, 9, [1, 1, 6, 6]),
        ann(6, 3, 11, [3, 3, 9, 9]),  # category 'c' is not among the classes
    ],
)

# per image: xyxy boxes, scores, labels (0 = b, 1 = a)
PREDICTIONS = {
    1: ([[2, 3, 12, 10], [21, 5, 35, 24], [1, 16, 7, 28], [20, 5, 36, 25]], [0.9, 0.8, 0.7, 0.6], [0, 1, 1, 0]),
    2: ([[6, 5, 29, 27], [1, 1, 7, 7], [10, 10, 20, 20]], [0.95, 0.5, 0.4], [0, 0, 1]),
    3: ([], [], []),
}


def box_mask(box):
    mask = torch.zeros(H, W, dtype=torch.bool)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    mask[y1:y2, x1:x2] = True
    return mask


def data_samples(as_dict: bool, with_masks: bool = True):
    samples = []
    for img_id, (boxes, scores, labels) in PREDICTIONS.items():
        sample = DetDataSample(metainfo=dict(img_id=img_id, ori_shape=(H, W)))
        pred = dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.tensor(labels, dtype=torch.int64),
        )
        if with_masks:
            pred["masks"] = torch.stack([box_mask(b) for b in boxes]) if boxes else torch.zeros(0, H, W, dtype=torch.bool)
        sample.pred_instances = InstanceData(**pred)
        samples.append(sample.to_dict() if as_dict else sample)
    return samples


def reference_results(iou_type):
    """The COCO results MMDetection builds from PREDICTIONS (float32 boxes, label -> category)."""
    label_to_cat = [9, 5]
    results = []
    for img_id, (boxes, scores, labels) in PREDICTIONS.items():
        for box, score, label in zip(np.asarray(boxes, np.float32).reshape(-1, 4).tolist(), np.float32(scores).tolist(), labels):
            record = dict(image_id=img_id, category_id=label_to_cat[label], score=score)
            if iou_type == "bbox":
                record["bbox"] = [box[0], box[1], box[2] - box[0], box[3] - box[1]]
            else:
                rle = mask_utils.encode(np.asfortranarray(box_mask(box).numpy().astype(np.uint8)))
                record["segmentation"] = dict(size=rle["size"], counts=rle["counts"].decode())
            results.append(record)
    return results


def reference_eval(iou_type, gt=GROUND_TRUTH, cat_ids=(9, 5), use_cats=1):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(reference_results(iou_type)), iou_type)
        evaluator.params.catIds = list(cat_ids)
        evaluator.params.imgIds = coco.getImgIds()
        evaluator.params.maxDets = [100, 300, 1000]
        evaluator.params.useCats = use_cats
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(GROUND_TRUTH))
    return str(path)


def run_metric(metric, samples, size=3):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    return metric.evaluate(size)


@pytest.mark.parametrize("as_dict", [False, True], ids=["DetDataSample", "dict"])
def test_bbox_and_segm_match_pycocotools(ann_file, as_dict):
    metrics = run_metric(CocoMetric(ann_file, metric=["bbox", "segm"]), data_samples(as_dict))
    for iou_type in ("bbox", "segm"):
        stats = reference_eval(iou_type).stats
        names = ["mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"]
        for i, name in enumerate(names):
            assert metrics[f"coco/{iou_type}_{name}"] == round(stats[i], 3)
        assert metrics[f"coco/{iou_type}_mAP_unrounded"] == pytest.approx(stats[0], abs=1e-12)
    assert list(metrics)[0] == "coco/bbox_mAP"  # CheckpointHook's save_best='auto' takes the first key
    assert 0 < metrics["coco/bbox_mAP"] < 1


def test_proposal_recall_is_class_agnostic_cocoeval(ann_file):
    metrics = run_metric(CocoMetric(ann_file, metric="proposal"), data_samples(False, with_masks=False))
    stats = reference_eval("bbox", use_cats=0).stats
    expected = {"AR@100": 6, "AR@300": 7, "AR@1000": 8, "AR_s@1000": 9, "AR_m@1000": 10, "AR_l@1000": 11}
    assert metrics == {f"coco/{k}": round(stats[i], 3) for k, i in expected.items()}


def test_proposal_fast_is_mmdetection_greedy_recall(ann_file):
    # usable gts (crowd left out, category 'c' counted): image 1: g1 [2,2,12,10], g2 [20,5,36,25];
    # image 2: g4 [5,5,30,28], g5 [1,1,6,6]; image 3: g6 (no proposals). IoUs with the proposals:
    # g2-p3 = 1 (exact), g1-p0 = 70/80 = .875, g2-p1 = 266/320 = .83125, g4-p0 = 506/575 = .88,
    # g5-p1 = 25/36 = .694. Recall over the 10 thresholds .50:.05:.95, 5 gts:
    # N=1 (p0 of each image): IoUs .875, .88 -> 2/5 up to .85, 0 above      -> AR = .4 * 8/10 = .32
    # N=2: .875, .83125, .88, .694 -> .8 (x4), .6 (.70-.80, x3), .4 (.85) -> AR = (3.2+1.8+.4)/10 = .54
    # N=1000: g2 takes p3 (1.0): .8 (x4), .6 (x4: .70-.85), .2 (x2: .9, .95) -> AR = .6
    metric = CocoMetric(ann_file, metric="proposal_fast", proposal_nums=(1, 2, 1000))
    metrics = run_metric(metric, data_samples(False, with_masks=False))
    assert metrics == {"coco/AR@1": pytest.approx(0.32), "coco/AR@2": pytest.approx(0.54), "coco/AR@1000": pytest.approx(0.6)}


def test_classwise_reports_each_category(ann_file, caplog):
    with caplog.at_level(logging.INFO, logger="detdatasets.evaluation.coco_metric"):
        metrics = run_metric(CocoMetric(ann_file, classwise=True, metric_items=["mAP", "mAP_50"]), data_samples(False))
    precision = reference_eval("bbox").eval["precision"]
    # COCOeval orders categories by id: 5 ('a'), 9 ('b'). (MMDetection pairs them with the
    # file order b, a instead, naming each AP after the other category.)
    for k, name in enumerate(["a", "b"]):
        p = precision[:, :, k, 0, -1]
        assert metrics[f"coco/{name}_precision"] == round(float(np.mean(p[p > -1])), 3)
    assert list(metrics) == ["coco/bbox_mAP", "coco/bbox_mAP_50", "coco/bbox_mAP_unrounded", "coco/a_precision", "coco/b_precision"]
    assert "| category | mAP   | mAP_50 |" in caplog.text
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in caplog.text


def test_format_only_writes_coco_results_without_evaluating(ann_file, tmp_path):
    prefix = str(tmp_path / "out" / "results")
    metrics = run_metric(CocoMetric(ann_file, metric=["bbox", "segm"], format_only=True, outfile_prefix=prefix), data_samples(False))
    assert metrics == {}
    boxes = json.loads((tmp_path / "out" / "results.bbox.json").read_text())
    assert boxes == reference_results("bbox")  # xyxy -> xywh, label 0 -> category 9
    masks = json.loads((tmp_path / "out" / "results.segm.json").read_text())
    assert [m["segmentation"] for m in masks] == [r["segmentation"] for r in reference_results("segm")]
    assert masks[0]["bbox"] == boxes[0]["bbox"]


def test_without_ann_file_ground_truth_comes_from_instances():
    samples = data_samples(False, with_masks=False)
    for sample in samples:  # the dataset's raw annotations, as MMDetection's metric reads them
        img_id = sample.img_id
        sample.set_metainfo(dict(instances=[
            dict(bbox=[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]],
                 bbox_label=[9, 5].index(a["category_id"]), ignore_flag=a["iscrowd"])
            for a in GROUND_TRUTH["annotations"] if a["image_id"] == img_id and a["category_id"] != 11
        ]))  # fmt: skip
    metrics = run_metric(CocoMetric(), samples)
    # the same ground truth as a COCO file: category id = label index, area = box area
    label_of = {9: 0, 5: 1}
    converted = copy.deepcopy(GROUND_TRUTH)
    converted["categories"] = [dict(id=0, name="a"), dict(id=1, name="b")]
    converted["annotations"] = [
        dict(a, category_id=label_of[a["category_id"]], area=a["bbox"][2] * a["bbox"][3])
        for a in converted["annotations"] if a["category_id"] != 11
    ]  # fmt: skip
    # predictions: label 0 -> category 0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = converted
        coco.createIndex()
        results = [dict(r, category_id=label_of[r["category_id"]]) for r in reference_results("bbox")]
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.params.maxDets = [100, 300, 1000]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert metrics["coco/bbox_mAP_unrounded"] == pytest.approx(evaluator.stats[0], abs=1e-12)


def test_errors_say_what_is_wrong(ann_file):
    with pytest.raises(ValueError, match="metric must be one of .* got 'keypoints'"):
        CocoMetric(ann_file, metric="keypoints")
    with pytest.raises(ValueError, match="format_only=True needs an outfile_prefix"):
        CocoMetric(ann_file, format_only=True)
    with pytest.raises(ValueError, match="metric item 'AP' is not one of"):
        CocoMetric(ann_file, metric_items=["AP"])

    samples = data_samples(False)
    samples[1].pred_instances.labels[0] = 2
    with pytest.raises(ValueError, match="image 2 has a predicted label 2 but there are only 2 categories"):
        run_metric(CocoMetric(ann_file), samples)

    metric = CocoMetric(ann_file)
    metric.dataset_meta = dict(classes=("a", "zebra"))
    metric.process({}, data_samples(False))
    with pytest.raises(ValueError, match=r"classes \['zebra'\] of dataset_meta are not categories of .*instances.json"):
        metric.evaluate(3)
