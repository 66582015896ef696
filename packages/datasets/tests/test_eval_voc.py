"""VOC mAP (eval_map / VOCMetric) on hand-built cases whose AP is worked out in the comments.

Semantics are MMDetection 3.x's eval_map with tpfp_default: a detection only looks at
the gt it overlaps most; difficult (ignored) gts neither count nor penalise; VOCMetric
uses the devkit's legacy +1 box convention.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detcore.structures import DetDataSample, InstanceData
from detdatasets.evaluation import VOCMetric, average_precision, eval_map

A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]
FAR = [60, 60, 70, 70]


def det(box, score):
    return [*box, score]


def cat_case():
    """One image, class 0: gts A and B, difficult C. Detections by score:

    C 0.95 -> overlaps the difficult gt best: ignored (neither tp nor fp)
    A 0.90 -> tp          (cum tp 1, fp 0: recall 0.5, precision 1)
    FAR 0.80 -> fp        (tp 1, fp 1: recall 0.5, precision 0.5)
    B 0.70 -> tp          (tp 2, fp 1: recall 1.0, precision 2/3)
    A 0.60 -> fp, A taken (tp 2, fp 2: recall 1.0, precision 0.5)
    """
    dets = np.array([det(C, 0.95), det(A, 0.9), det(FAR, 0.8), det(B, 0.7), det(A, 0.6)], np.float32)
    ann = dict(
        bboxes=np.array([A, B], np.float32),
        labels=np.array([0, 0]),
        bboxes_ignore=np.array([C], np.float32),
        labels_ignore=np.array([0]),
    )
    return dets, ann


# area: envelope of precision over recall steps 0->0.5 (1.0) and 0.5->1.0 (2/3)
CAT_AP_AREA = 0.5 * 1.0 + 0.5 * (2 / 3)
# 11 points: recall >= 0, .1, .., .5 reach precision 1 (6 points); .6 .. 1.0 reach 2/3 (5 points)
CAT_AP_11 = (6 * 1.0 + 5 * (2 / 3)) / 11


@pytest.mark.parametrize("mode, expected", [("area", CAT_AP_AREA), ("11points", CAT_AP_11)])
def test_eval_map_hand_computed_ap_with_difficult_box(mode, expected):
    dets, ann = cat_case()
    mean_ap, results = eval_map([[dets]], [ann], eval_mode=mode)
    assert mean_ap == pytest.approx(expected, abs=1e-6)
    assert results[0].num_gts.tolist() == [2] and results[0].num_dets == 5
    np.testing.assert_allclose(results[0].recall[0], [0, 0.5, 0.5, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(results[0].precision[0], [0, 1, 0.5, 2 / 3, 0.5], atol=1e-6)


def test_classes_without_gt_are_left_out_and_classes_without_dets_score_zero():
    dets, ann = cat_case()
    # class 1 has a gt but no detection (AP 0, counted); class 2 a detection but no gt (skipped)
    ann = dict(ann, bboxes=np.array([A, B, FAR], np.float32), labels=np.array([0, 0, 1]))
    per_class = [dets, np.zeros((0, 5), np.float32), np.array([det(B, 0.5)], np.float32)]
    mean_ap, results = eval_map([per_class], [ann])
    assert mean_ap == pytest.approx((CAT_AP_AREA + 0.0) / 2, abs=1e-6)
    assert [r.num_gts[0] for r in results] == [2, 1, 0]


def test_detection_only_looks_at_its_best_gt():
    # gts X and Y overlap; the second detection overlaps X best (IoU 95/105 = 0.90), X is
    # already taken, so it is a false positive although Y (IoU 85/115 = 0.74) is free:
    # AP = area under (recall .5, precision 1), (.5, .5) = 0.5
    x, y = [0, 0, 10, 10], [2, 0, 12, 10]
    dets = np.array([det(x, 0.9), det([0.5, 0, 10.5, 10], 0.8)], np.float32)
    ann = dict(bboxes=np.array([x, y], np.float32), labels=np.array([0, 0]))
    mean_ap, _ = eval_map([[dets]], [ann])
    assert mean_ap == pytest.approx(0.5, abs=1e-6)


def test_legacy_coordinates_decide_a_borderline_match():
    # det [0,0,4,4] vs gt [0,0,6,6]: +1 convention 25/49 = 0.51 (match), plain 16/36 = 0.44 (miss)
    dets = np.array([det([0, 0, 4, 4], 0.9)], np.float32)
    ann = dict(bboxes=np.array([[0, 0, 6, 6]], np.float32), labels=np.array([0]))
    assert eval_map([[dets]], [ann], use_legacy_coordinate=True)[0] == pytest.approx(1.0)
    assert eval_map([[dets]], [ann], use_legacy_coordinate=False)[0] == pytest.approx(0.0)


def test_scale_ranges_evaluate_each_range_on_its_own():
    # legacy areas: small gt S 5x5 = 25 (< 8^2), large gt L 21x21 = 441, spurious big box 441.
    # small range: spurious (0.95) out of range -> nothing; S tp; L out of range -> nothing: AP 1
    # large range: spurious fp first, S (matched gt out of range) nothing, L tp: AP = 1 * 0.5
    small, large, spurious = [0, 0, 4, 4], [10, 10, 30, 30], [50, 50, 70, 70]
    dets = np.array([det(spurious, 0.95), det(small, 0.9), det(large, 0.8)], np.float32)
    ann = dict(bboxes=np.array([small, large], np.float32), labels=np.array([0, 0]))
    mean_ap, results = eval_map([[dets]], [ann], scale_ranges=[(0, 8), (8, 1e5)], use_legacy_coordinate=True)
    np.testing.assert_allclose(mean_ap, [1.0, 0.5], atol=1e-6)
    assert results[0].num_gts.tolist() == [1, 1]


def test_average_precision_of_a_plain_curve():
    # one step to recall 1 at precision 0.5: area 0.5; 11 points all reach 0.5
    recall, precision = np.array([0.0, 1.0]), np.array([0.0, 0.5])
    assert average_precision(recall, precision, "area") == pytest.approx(0.5)
    assert average_precision(recall, precision, "11points") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="eval_mode must be one of"):
        average_precision(recall, precision, "interp")


def voc_sample(gt_boxes, gt_labels, det_boxes, det_scores, det_labels, ignored=((), ())):
    det_boxes = np.asarray(det_boxes, np.float32)
    sample = DetDataSample(metainfo=dict(img_id=0, ori_shape=(100, 100)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4), labels=torch.tensor(gt_labels))
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor(ignored[0], dtype=torch.float32).reshape(-1, 4), labels=torch.tensor(ignored[1], dtype=torch.int64)
    )
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(det_boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(det_scores),
        labels=torch.tensor(det_labels),
    )
    return sample


def test_voc_metric_end_to_end_gives_mmdetection_keys():
    dets, _ = cat_case()
    # classes: cat = the case above, dog = gt FAR without detections, bird = a detection only
    sample = voc_sample(
        gt_boxes=[A, B, FAR],
        gt_labels=[0, 0, 1],
        det_boxes=[d[:4] for d in dets] + [B],
        det_scores=[float(d[4]) for d in dets] + [0.5],
        det_labels=[0] * 5 + [2],
        ignored=([C], [0]),
    )
    metric = VOCMetric(eval_mode="11points")
    metric.dataset_meta = dict(classes=("cat", "dog", "bird"))
    metric.process({}, [sample])
    metrics = metric.evaluate(size=1)
    assert list(metrics) == ["pascal_voc/mAP", "pascal_voc/AP50"]
    assert metrics["pascal_voc/mAP"] == pytest.approx((CAT_AP_11 + 0.0) / 2, abs=1e-6)
    assert metrics["pascal_voc/AP50"] == round((CAT_AP_11 + 0.0) / 2, 3)
    assert metric.results == []


def test_voc_metric_takes_dict_samples_and_several_thresholds():
    sample = voc_sample([A], [0], [[0, 0, 4, 4], A], [0.9, 0.8], [0, 0]).to_dict()
    # IoU of [0,0,4,4] with A (+1 convention) = 25/121 = 0.21: a miss at 0.5, a hit at 0.2
    # at 0.5: fp then tp -> AP 0.5 (area); at 0.2: tp then fp (A taken) -> AP 1
    metric = VOCMetric(iou_thrs=[0.5, 0.2], eval_mode="area")
    metric.dataset_meta = dict(classes=("cat",))
    metric.process({}, [sample])
    metrics = metric.evaluate(size=1)
    assert metrics["pascal_voc/AP50"] == 0.5 and metrics["pascal_voc/AP20"] == 1.0
    assert metrics["pascal_voc/mAP"] == pytest.approx(0.75)


def test_voc_metric_scale_ranges_get_a_key_each():
    small, large, spurious = [0, 0, 4, 4], [10, 10, 30, 30], [50, 50, 70, 70]
    sample = voc_sample([small, large], [0, 0], [spurious, small, large], [0.95, 0.9, 0.8], [0, 0, 0])
    metric = VOCMetric(scale_ranges=[(0, 8), (8, 1e5)], eval_mode="area")
    metric.dataset_meta = dict(classes=("cat",))
    metric.process({}, [sample])
    metrics = metric.evaluate(size=1)
    assert metrics == {"pascal_voc/mAP": pytest.approx(0.75), "pascal_voc/AP50@0-8": 1.0, "pascal_voc/AP50@8-100000": 0.5}


def test_voc_metric_errors_name_the_problem():
    with pytest.raises(ValueError, match="metric must be 'mAP', got 'recall'"):
        VOCMetric(metric="recall")
    with pytest.raises(ValueError, match="eval_mode must be one of"):
        VOCMetric(eval_mode="12points")
    metric = VOCMetric()
    metric.dataset_meta = dict(classes=("cat",))
    metric.process({}, [voc_sample([A], [0], [A], [0.9], [3])])
    with pytest.raises(ValueError, match="detection label 3 is outside 0..0"):
        metric.evaluate(size=1)


def test_voc2012_with_11points_warns():
    metric = VOCMetric(eval_mode="11points")
    metric.dataset_meta = dict(classes=("cat",), dataset_type="VOC2012")
    metric.process({}, [voc_sample([A], [0], [A], [0.9], [0])])
    with pytest.warns(UserWarning, match="VOC2012 uses eval_mode 'area'"):
        metric.evaluate(size=1)
