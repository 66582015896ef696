"""Photometric and erasing transforms, FilterAnnotations, PackDetInputs and TestTimeAug by
hand-computed cases, plus a config-built pipeline from a file on disk to packed inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from detcore.structures import BitmapMasks, DetDataSample, HorizontalBoxes, PolygonMasks
from detdatasets.transforms import (
    Compose,
    CutOut,
    FilterAnnotations,
    PackDetInputs,
    PhotoMetricDistortion,
    RandomErasing,
    TestTimeAug,
    YOLOXHSVRandomAug,
)


def results_with(boxes, labels=None, flags=None, height=20, width=30, seed=0) -> dict:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    count = len(boxes)
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    masks = np.array([(rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)
                      for x1, y1, x2, y2 in boxes.astype(int)], np.uint8).reshape(-1, height, width)
    return dict(img=np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8),
                img_shape=(height, width), gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.arange(count) if labels is None else np.asarray(labels),
                gt_ignore_flags=np.zeros(count, bool) if flags is None else np.asarray(flags),
                gt_masks=BitmapMasks(masks, height, width))


# ---------------------------------------------------------------------------- photometric
def test_photometric_distortion_with_neutral_ranges_only_permutes_channels():
    """No brightness, contrast, saturation or hue change: the HSV round trip returns the
    image (within float error), possibly with its channels swapped."""
    img = np.random.default_rng(0).integers(0, 256, (6, 8, 3), np.uint8)
    neutral = PhotoMetricDistortion(brightness_delta=0, contrast_range=(1, 1),
                                    saturation_range=(1, 1), hue_delta=0)
    permutations = set()
    for seed in range(12):
        np.random.seed(seed)
        out = neutral(dict(img=img.copy()))["img"]
        assert out.dtype == np.float32 and out.shape == img.shape
        matching = [p for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
                    if np.allclose(out, img[..., list(p)], atol=1e-3)]
        assert matching
        permutations.add(matching[0])
    assert (0, 1, 2) in permutations and len(permutations) > 1


def test_photometric_distortion_brightness_only_by_hand():
    img = np.full((2, 2, 3), 100, np.uint8)
    distort = PhotoMetricDistortion(brightness_delta=10, contrast_range=(1, 1),
                                    saturation_range=(1, 1), hue_delta=0)
    shifts = set()
    for seed in range(10):
        np.random.seed(seed)
        out = distort(dict(img=img.copy()))["img"]
        assert np.allclose(out, out[0, 0, 0], atol=1e-3)  # still grey: a uniform shift
        shifts.add(round(float(out[0, 0, 0]) - 100, 3))
    assert all(-10 <= s <= 10 for s in shifts) and 0.0 in shifts and len(shifts) > 2


def test_yolox_hsv_with_zero_deltas_is_the_hsv_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (6, 8, 3), np.uint8)
    expected = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), cv2.COLOR_HSV2BGR)
    out = YOLOXHSVRandomAug(0, 0, 0)(dict(img=img.copy()))["img"]
    np.testing.assert_array_equal(out, expected)


def test_colour_transforms_need_bgr_images():
    with pytest.raises(ValueError, match="PhotoMetricDistortion works on \\(H, W, 3\\) BGR"):
        PhotoMetricDistortion()(dict(img=np.zeros((4, 4), np.uint8)))


# ---------------------------------------------------------------------------- erasing
def test_cutout_fills_one_rectangle_of_the_given_shape():
    for seed in range(5):
        np.random.seed(seed)
        out = CutOut(n_holes=1, cutout_shape=(7, 4), fill_in=(1, 2, 3))(
            dict(img=np.full((20, 30, 3), 200, np.uint8)))
        rows, cols = np.nonzero((out["img"] != 200).any(axis=2))
        assert (out["img"][rows, cols] == (1, 2, 3)).all()
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == height * width and height <= 4 and width <= 7
        assert height == 4 or rows.max() == 19  # cut only by the image border
        assert width == 7 or cols.max() == 29


def test_cutout_argument_errors():
    with pytest.raises(ValueError, match="exactly one of cutout_shape and cutout_ratio"):
        CutOut(n_holes=1)
    with pytest.raises(ValueError, match="n_holes must be a number or \\(low, high\\)"):
        CutOut(n_holes=(3, 1), cutout_shape=(2, 2))


def test_random_erasing_everything_drops_every_object():
    results = results_with([[1, 1, 10, 10], [12, 3, 20, 19]])
    results["gt_seg_map"] = np.zeros((20, 30), np.uint8)
    out = RandomErasing(n_patches=1, ratio=1.0, img_border_value=(5, 6, 7))(results)
    assert (out["img"] == (5, 6, 7)).all() and (out["gt_seg_map"] == 255).all()
    assert len(out["gt_bboxes"]) == len(out["gt_bboxes_labels"]) == len(out["gt_masks"]) == 0


def test_random_erasing_keeps_objects_below_the_threshold_and_erases_their_masks():
    for seed in range(6):
        np.random.seed(seed)
        results = results_with([[0, 0, 30, 20], [2, 2, 6, 6], [20, 10, 30, 20]])
        original = results["gt_masks"].masks.copy()
        out = RandomErasing(n_patches=(1, 3), ratio=(0.2, 0.4), bbox_erased_thr=0.5)(results)
        erased = (out["img"] == 128).all(axis=2) & ~(results_with([])["img"] == 128).all(axis=2)
        for label, mask in zip(out["gt_bboxes_labels"], out["gt_masks"].masks):
            box_area = original[label].sum()
            assert (original[label] & erased).sum() / box_area < 0.5
            np.testing.assert_array_equal(mask, original[label] & ~erased)


def test_random_erasing_refuses_polygon_masks():
    results = results_with([[1, 1, 5, 5]])
    results["gt_masks"] = PolygonMasks([[np.array([1, 1, 5, 1, 5, 5.0])]], 20, 30)
    with pytest.raises(TypeError, match="needs BitmapMasks \\(LoadAnnotations poly2mask=True\\)"):
        RandomErasing(n_patches=1, ratio=0.1)(results)


# ---------------------------------------------------------------------------- filtering
def test_filter_annotations_by_box_keeps_labels_aligned():
    results = results_with([[0, 0, 0.5, 5], [1, 1, 3, 4], [2, 2, 5, 2.9]], labels=[7, 8, 9],
                           flags=[False, True, False])
    out = FilterAnnotations(min_gt_bbox_wh=(1, 1))(results)
    assert out["gt_bboxes"].tensor.tolist() == [[1, 1, 3, 4]]
    assert out["gt_bboxes_labels"].tolist() == [8] and out["gt_ignore_flags"].tolist() == [True]
    assert out["gt_masks"].masks.shape == (1, 20, 30) and out["gt_masks"].masks.sum() == 6


def test_filter_annotations_by_mask_and_empty_results():
    results = results_with([[0, 0, 2, 2], [5, 5, 15, 15]])
    out = FilterAnnotations(by_box=False, by_mask=True, min_gt_mask_area=5)(results)
    assert out["gt_bboxes_labels"].tolist() == [1]
    tiny = results_with([[0, 0, 0.5, 0.5]])
    assert FilterAnnotations()(tiny) is None
    kept = FilterAnnotations(keep_empty=False)(results_with([[0, 0, 0.5, 0.5]]))
    assert len(kept["gt_bboxes"]) == len(kept["gt_masks"]) == 0
    empty = results_with([])
    assert FilterAnnotations()(empty) is empty
    with pytest.raises(ValueError, match="at least one of by_box and by_mask"):
        FilterAnnotations(by_box=False)


# ---------------------------------------------------------------------------- packing
def test_pack_det_inputs_by_hand():
    results = results_with([[1, 1, 5, 5], [2, 2, 8, 9], [0, 0, 3, 3]], labels=[4, 5, 6],
                           flags=[False, True, False])
    results.update(img_id=3, img_path="a.jpg", ori_shape=(20, 30), scale_factor=(1.0, 1.0),
                   flip=False, flip_direction=None, unrelated="x")
    packed = PackDetInputs()(results)
    assert set(packed) == {"inputs", "data_samples"}
    inputs = packed["inputs"]
    assert inputs.dtype == torch.uint8 and tuple(inputs.shape) == (3, 20, 30)
    np.testing.assert_array_equal(inputs.numpy(), results["img"].transpose(2, 0, 1))
    sample = packed["data_samples"]
    assert isinstance(sample, DetDataSample)
    assert sample.gt_instances.labels.tolist() == [4, 6]
    assert sample.gt_instances.bboxes.tensor.tolist() == [[1, 1, 5, 5], [0, 0, 3, 3]]
    assert sample.gt_instances.masks.masks.shape == (2, 20, 30)
    assert sample.ignored_instances.labels.tolist() == [5]
    assert sample.metainfo == dict(img_id=3, img_path="a.jpg", ori_shape=(20, 30),
                                   img_shape=(20, 30), scale_factor=(1.0, 1.0), flip=False,
                                   flip_direction=None)


def test_pack_det_inputs_grayscale_strided_and_array_boxes():
    img = np.arange(24, dtype=np.uint8).reshape(4, 6)
    packed = PackDetInputs(meta_keys=())(dict(img=img[:, ::-1], gt_bboxes=np.ones((2, 4), np.float32),
                                              gt_bboxes_labels=np.array([1, 2])))
    assert tuple(packed["inputs"].shape) == (1, 4, 6)
    np.testing.assert_array_equal(packed["inputs"][0].numpy(), img[:, ::-1])
    instances = packed["data_samples"].gt_instances
    assert isinstance(instances.bboxes, torch.Tensor) and instances.labels.tolist() == [1, 2]
    assert len(packed["data_samples"].ignored_instances) == 0
    assert packed["data_samples"].metainfo == {}


def test_test_time_aug_runs_every_combination():
    tta = TestTimeAug([[dict(type="Resize", scale=(60, 40), keep_ratio=True),
                        dict(type="Resize", scale=(15, 10), keep_ratio=True)],
                       [dict(type="RandomFlip", prob=1.0), dict(type="RandomFlip", prob=0.0)],
                       [dict(type="PackDetInputs", meta_keys=("img_shape", "flip"))]])
    results = results_with([[1, 1, 5, 5]])
    out = tta(results)
    assert set(out) == {"inputs", "data_samples"} and len(out["inputs"]) == 4
    assert [tuple(x.shape[1:]) for x in out["inputs"]] == [(40, 60), (40, 60), (10, 15), (10, 15)]
    assert [s.flip for s in out["data_samples"]] == [True, False, True, False]
    assert out["data_samples"][1].gt_instances.bboxes.tensor.tolist() == [[2, 2, 10, 10]]
    assert results["img"].shape == (20, 30, 3)  # the input is not modified
    with pytest.raises(TypeError, match="transforms\\[0\\] must be a non-empty list"):
        TestTimeAug([dict(type="Resize", scale=(2, 2))])


def test_config_pipeline_from_an_image_file_to_packed_inputs(tmp_path):
    """LoadImageFromFile -> LoadAnnotations -> Resize -> RandomFlip -> Pad -> PackDetInputs,
    built from config dicts as a dataset would."""
    img = np.random.default_rng(0).integers(0, 256, (24, 32, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "x.png"), img)
    record = dict(img_path=str(tmp_path / "x.png"), img_id="x", height=24, width=32,
                  instances=[dict(bbox=[2, 4, 10, 12], bbox_label=1, ignore_flag=0,
                                  mask=[[2, 4, 10, 4, 10, 12, 2, 12]]),
                             dict(bbox=[20, 2, 30, 20], bbox_label=0, ignore_flag=1,
                                  mask=[[20, 2, 30, 2, 30, 20, 20, 20]])])
    pipeline = Compose([dict(type="LoadImageFromFile"),
                        dict(type="LoadAnnotations", with_mask=True),
                        dict(type="Resize", scale=(64, 48), keep_ratio=True),
                        dict(type="RandomFlip", prob=1.0),
                        dict(type="Pad", size_divisor=32),
                        dict(type="PackDetInputs")])
    packed = pipeline(record)
    assert tuple(packed["inputs"].shape) == (3, 64, 64)
    np.testing.assert_array_equal(
        packed["inputs"][:, :48].numpy(),
        cv2.resize(img, (64, 48), interpolation=cv2.INTER_LINEAR)[:, ::-1].transpose(2, 0, 1))
    sample = packed["data_samples"]
    assert sample.gt_instances.bboxes.tensor.tolist() == [[44, 8, 60, 24]]
    assert sample.ignored_instances.bboxes.tensor.tolist() == [[4, 4, 24, 40]]
    assert sample.img_shape == (64, 64) and sample.ori_shape == (24, 32)
    assert sample.scale_factor == (2.0, 2.0) and sample.flip_direction == "horizontal"
    np.testing.assert_array_equal(HorizontalBoxes.from_instance_masks(sample.gt_instances.masks)
                                  .tensor.numpy(), [[44, 8, 60, 24]])
