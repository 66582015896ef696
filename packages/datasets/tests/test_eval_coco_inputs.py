"""coco_evaluate on malformed input: errors name the file, record and field."""

from __future__ import annotations

import copy
import json

import pytest

from detdatasets.evaluation import coco_evaluate

GT = dict(
    images=[dict(id=1, width=20, height=20)],
    categories=[dict(id=1, name="thing")],
    annotations=[dict(id=1, image_id=1, category_id=1, bbox=[2, 2, 8, 8], area=64.0, iscrowd=0)],
)
DETS = [dict(image_id=1, category_id=1, bbox=[2, 2, 8, 8], score=0.9)]


def test_a_perfect_detection_scores_one():
    # one gt of area 64 (small), matched exactly: every AP and AR that has a gt is 1 (AP up to
    # COCOeval's 1 / (1 + eps) precision), medium and large have no gt: -1
    expected = [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0]
    assert coco_evaluate(GT, DETS) == pytest.approx(expected, abs=1e-12)


def test_missing_annotation_field_names_the_record():
    gt = copy.deepcopy(GT)
    del gt["annotations"][0]["area"]
    with pytest.raises(ValueError, match=r"ground truth dict: annotations\[0\] has no 'area'"):
        coco_evaluate(gt, DETS)


def test_malformed_box_names_the_record(tmp_path):
    dets = DETS + [dict(image_id=1, category_id=1, bbox=[1, 2, 3], score=0.5)]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(dets))
    with pytest.raises(ValueError, match=r"results.json: results\[1\] has a malformed 'bbox': \[1, 2, 3\]"):
        coco_evaluate(GT, str(path))


def test_results_for_unknown_images_are_refused():
    with pytest.raises(ValueError, match=r"results refer to image ids that are not in the ground truth's images .*: \[7\]"):
        coco_evaluate(GT, [dict(DETS[0], image_id=7)])


def test_duplicate_annotation_ids_are_refused():
    gt = copy.deepcopy(GT)
    gt["annotations"].append(dict(gt["annotations"][0]))
    with pytest.raises(ValueError, match="annotation id 1 is used more than once"):
        coco_evaluate(gt, DETS)


def test_missing_files_and_bad_json_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="ground truth file not found: .*nowhere.json"):
        coco_evaluate(str(tmp_path / "nowhere.json"), DETS)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        coco_evaluate(str(bad), DETS)


def test_bad_parameters_are_explained():
    with pytest.raises(ValueError, match="iou_type must be one of \\('bbox', 'segm'\\), got 'keypoints'"):
        coco_evaluate(GT, DETS, "keypoints")
    with pytest.raises(ValueError, match="max_dets needs 3 values"):
        coco_evaluate(GT, DETS, max_dets=[100])


def test_segm_needs_segmentations():
    dets = [dict(DETS[0], segmentation=dict(size=[20, 20], counts="0`0"))]
    with pytest.raises(ValueError, match="segm evaluation needs a 'segmentation' in annotation id 1"):
        coco_evaluate(GT, dets, "segm")
