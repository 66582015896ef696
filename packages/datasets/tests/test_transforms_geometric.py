"""Geometric transforms by hand-computed cases and invariants: boxes stay inside the image,
the masks' boxes equal the gt boxes, labels follow their boxes through filtering, and
``homography_matrix`` maps the original boxes onto the new ones."""

from __future__ import annotations

import numpy as np
import pytest

from detcore.structures import BitmapMasks, HorizontalBoxes, PolygonMasks
from detdatasets.transforms import (
    Compose,
    Expand,
    FixShapeResize,
    MinIoURandomCrop,
    Pad,
    RandomAffine,
    RandomChoiceResize,
    RandomCrop,
    RandomFlip,
    RandomResize,
    Resize,
)

BOXES = np.array([[2, 3, 12, 9], [20, 1, 29, 17], [5, 12, 18, 19], [0, 0, 30, 20]], np.float32)


def results_with(boxes=BOXES, height=20, width=30, polygons=False, seed=0) -> dict:
    """Image, integer boxes labelled 0..N-1 (so a label names its original box), ignore
    flags, and masks filling exactly each box (bitmaps, or rectangles as polygons)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    if polygons:
        masks = PolygonMasks([[np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)]
                              for x1, y1, x2, y2 in boxes], height, width)
    else:
        masks = BitmapMasks(np.stack([(rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)
                                      for x1, y1, x2, y2 in boxes.astype(int)]), height, width)
    return dict(img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                img_shape=(height, width), ori_shape=(height, width),
                gt_bboxes=HorizontalBoxes(boxes), gt_masks=masks,
                gt_bboxes_labels=np.arange(len(boxes), dtype=np.int64),
                gt_ignore_flags=np.arange(len(boxes)) % 2 == 1)


def mask_boxes(masks) -> np.ndarray:
    return HorizontalBoxes.from_instance_masks(masks).tensor.numpy()


def assert_consistent(out: dict, original_boxes=BOXES, mask_atol: float = 0.0) -> None:
    """The invariants every geometric transform keeps."""
    boxes = out["gt_bboxes"].tensor.numpy()
    height, width = out["img"].shape[:2]
    assert tuple(out["img_shape"]) == (height, width)
    n = len(boxes)
    assert len(out["gt_bboxes_labels"]) == len(out["gt_ignore_flags"]) == len(out["gt_masks"]) == n
    assert (boxes >= 0).all() and (boxes[:, 0::2] <= width).all() and (boxes[:, 1::2] <= height).all()
    assert (out["gt_masks"].height, out["gt_masks"].width) == (height, width)
    np.testing.assert_allclose(mask_boxes(out["gt_masks"]), boxes, atol=mask_atol)
    # labels name the original box; flags follow them; the homography maps it here
    labels = out["gt_bboxes_labels"]
    np.testing.assert_array_equal(out["gt_ignore_flags"], labels % 2 == 1)
    expected = HorizontalBoxes(original_boxes[labels])
    expected.project_(out["homography_matrix"])
    expected.clip_((height, width))
    np.testing.assert_allclose(boxes, expected.tensor.numpy(), atol=1e-3)


# ---------------------------------------------------------------------------- resize
def test_resize_keep_ratio_by_hand():
    out = Resize(scale=(90, 40), keep_ratio=True)(results_with())
    assert out["img"].shape == (40, 60, 3)  # factor min(90 / 30, 40 / 20) = 2
    assert out["scale"] == (90, 40) and out["scale_factor"] == (2.0, 2.0) and out["keep_ratio"]
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), BOXES * 2)
    np.testing.assert_array_equal(out["homography_matrix"], np.diag([2, 2, 1]))
    assert_consistent(out)


def test_resize_to_a_fixed_size_clips_boxes_by_hand():
    boxes = np.array([[25, 5, 45, 35]], np.float32)  # beyond the 40 x 30 image
    out = Resize(scale=(15, 10))(results_with(boxes=boxes, width=40, height=30))
    assert out["img"].shape == (10, 15, 3)
    np.testing.assert_allclose(out["scale_factor"], (15 / 40, 10 / 30))
    np.testing.assert_allclose(out["gt_bboxes"].tensor.numpy(),
                               [[25 * 15 / 40, 5 / 3, 15, 10]], rtol=1e-6)
    unclipped = Resize(scale=(15, 10), clip_object_border=False)(
        results_with(boxes=boxes, width=40, height=30))
    np.testing.assert_allclose(unclipped["gt_bboxes"].tensor.numpy(),
                               [[25 * 15 / 40, 5 / 3, 45 * 15 / 40, 35 / 3]], rtol=1e-6)


def test_resize_by_factor_and_fix_shape_resize_by_hand():
    out = Resize(scale_factor=0.5)(results_with())
    assert out["img"].shape == (10, 15, 3) and out["scale"] == (15, 10)
    fixed = FixShapeResize(width=30, height=30, keep_ratio=True)(results_with(width=40))
    # factor min(30 / 40, 30 / 20) = 0.75: 15 x 30, padded at the bottom to 30 x 30
    assert fixed["img"].shape == (30, 30, 3) and fixed["scale_factor"] == (0.75, 0.75)
    assert fixed["pad_shape"] == (30, 30, 3) and fixed["img_shape"] == (30, 30)
    assert (fixed["img"][15:] == 0).all()
    assert_consistent(fixed, mask_atol=1.0)  # nearest-neighbour masks at a 0.75 factor
    plain = FixShapeResize(width=45, height=10)(results_with())
    assert plain["img"].shape == (10, 45, 3) and plain["scale_factor"] == (1.5, 0.5)


def test_random_resize_draws_within_its_ranges_and_reproduces():
    by_ratio = RandomResize(scale=(60, 40), ratio_range=(0.5, 1.5), keep_ratio=True)
    by_bounds = RandomResize(scale=[(30, 20), (64, 48)])
    for seed in range(10):
        np.random.seed(seed)
        w, h = by_ratio(results_with())["scale"]
        assert 30 <= w <= 90 and 20 <= h <= 60 and abs(w / h - 1.5) < 0.1
        np.random.seed(seed)
        out = by_bounds(results_with())
        w, h = out["scale"]
        assert 30 <= w <= 64 and 20 <= h <= 48 and out["img"].shape == (h, w, 3)
        np.random.seed(seed)
        again = by_bounds(results_with())
        np.testing.assert_array_equal(again["img"], out["img"])


def test_random_choice_resize_records_the_chosen_scale():
    choose = RandomChoiceResize(scales=[(30, 20), (60, 40)], keep_ratio=True)
    seen = set()
    for seed in range(20):
        np.random.seed(seed)
        out = choose(results_with())
        assert out["scale"] == [(30, 20), (60, 40)][out["scale_idx"]]
        assert out["img"].shape[:2] == (out["scale"][1], out["scale"][0])
        seen.add(out["scale_idx"])
    assert seen == {0, 1}


# ---------------------------------------------------------------------------- flip
@pytest.mark.parametrize("direction, expected", [
    ("horizontal", [10, 2, 14, 6]), ("vertical", [1, 4, 5, 8]), ("diagonal", [10, 4, 14, 8])])
def test_flip_by_hand(direction, expected):
    """A [1, 2, 5, 6] box in a 10 x 15 image."""
    boxes = np.array([[1, 2, 5, 6]], np.float32)
    results = results_with(boxes=boxes, height=10, width=15)
    img = results["img"].copy()
    out = RandomFlip(prob=1.0, direction=direction)(results)
    assert out["flip"] and out["flip_direction"] == direction
    assert out["gt_bboxes"].tensor.tolist() == [expected]
    axes = {"horizontal": 1, "vertical": 0, "diagonal": (0, 1)}[direction]
    np.testing.assert_array_equal(out["img"], np.flip(img, axes))
    assert_consistent(out, boxes)


def test_flip_with_probability_zero_changes_nothing():
    results = results_with()
    img = results["img"].copy()
    out = RandomFlip(prob=0.0)(results)
    assert out["flip"] is False and out["flip_direction"] is None
    np.testing.assert_array_equal(out["img"], img)
    assert "homography_matrix" not in out


def test_flip_frequencies_follow_the_probabilities():
    flip = RandomFlip(prob=[0.5, 0.25], direction=["horizontal", "vertical"])
    np.random.seed(0)
    drawn = [flip(dict(img=np.zeros((2, 2, 3), np.uint8)))["flip_direction"] for _ in range(2000)]
    assert abs(drawn.count("horizontal") / 2000 - 0.5) < 0.04
    assert abs(drawn.count("vertical") / 2000 - 0.25) < 0.04
    assert abs(drawn.count(None) / 2000 - 0.25) < 0.04


def test_flip_swaps_seg_labels():
    seg = np.array([[1, 2, 0]], np.uint8)
    out = RandomFlip(prob=1.0, swap_seg_labels=[(1, 2)])(
        dict(img=np.zeros((1, 3, 3), np.uint8), gt_seg_map=seg))
    assert out["gt_seg_map"].tolist() == [[0, 1, 2]]


# ---------------------------------------------------------------------------- pad
def test_pad_to_a_multiple_by_hand():
    results = results_with()
    results["gt_seg_map"] = np.ones((20, 30), np.uint8)
    img = results["img"].copy()
    out = Pad(size_divisor=16, pad_val=dict(img=7, seg=200))(results)
    assert out["img"].shape == out["pad_shape"] == (32, 32, 3)
    assert out["img_shape"] == (32, 32) and out["pad_size_divisor"] == 16
    np.testing.assert_array_equal(out["img"][:20, :30], img)
    assert (out["img"][20:] == 7).all() and (out["img"][:, 30:] == 7).all()
    assert (out["gt_seg_map"][20:] == 200).all() and (out["gt_seg_map"][:20, :30] == 1).all()
    assert out["gt_masks"].masks.shape == (4, 32, 32)
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), BOXES)
    sized = Pad(size=(40, 25))(results_with())
    assert sized["img"].shape == (25, 40, 3) and sized["pad_fixed_size"] == (40, 25)
    square = Pad(pad_to_square=True, size_divisor=8)(results_with())
    assert square["img"].shape == (32, 32, 3)


# ---------------------------------------------------------------------------- crops, expand
@pytest.mark.parametrize("crop_type, crop_size, shape", [
    ("absolute", (25, 12), (12, 25)), ("relative", (0.5, 0.25), (5, 15)),
    ("absolute", (100, 100), (20, 30))])
def test_random_crop_shape_by_hand(crop_type, crop_size, shape):
    out = RandomCrop(crop_size, crop_type=crop_type, allow_negative_crop=True)(results_with())
    assert out["img"].shape[:2] == shape


@pytest.mark.parametrize("polygons", [False, True])
@pytest.mark.parametrize("crop_type, crop_size", [
    ("absolute", (12, 10)), ("absolute_range", (8, 18)), ("relative_range", (0.3, 0.5))])
def test_random_crop_keeps_annotations_consistent(crop_type, crop_size, polygons):
    crop = RandomCrop(crop_size, crop_type=crop_type, allow_negative_crop=True)
    for seed in range(8):
        np.random.seed(seed)
        assert_consistent(crop(results_with(polygons=polygons)))


def test_random_crop_without_boxes_returns_none_unless_allowed():
    boxes = np.array([[26, 16, 30, 20]], np.float32)  # one small box in the corner
    outcomes = []
    for seed in range(30):
        np.random.seed(seed)
        strict = RandomCrop((8, 8))(results_with(boxes=boxes))
        np.random.seed(seed)
        lenient = RandomCrop((8, 8), allow_negative_crop=True)(results_with(boxes=boxes))
        assert (strict is None) == (len(lenient["gt_bboxes"]) == 0)
        outcomes.append(strict is None)
    assert any(outcomes) and not all(outcomes)


def test_random_crop_recompute_bbox_uses_the_masks():
    results = results_with()
    results["gt_bboxes"] = HorizontalBoxes(BOXES + np.array([-1, -1, 1, 1], np.float32))
    np.random.seed(0)
    out = RandomCrop((30, 20), recompute_bbox=True)(results)  # the whole image
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), BOXES)


def test_expand_by_hand():
    results = results_with()
    img = results["img"].copy()
    np.random.seed(0)
    out = Expand(mean=(10, 20, 30), ratio_range=(2, 2), prob=1.0)(results)
    assert out["img"].shape == (40, 60, 3)
    left, top = int(out["homography_matrix"][0, 2]), int(out["homography_matrix"][1, 2])
    np.testing.assert_array_equal(out["img"][top:top + 20, left:left + 30], img)
    outside = np.ones((40, 60), bool)
    outside[top:top + 20, left:left + 30] = False
    assert (out["img"][outside] == (30, 20, 10)).all()  # RGB mean, BGR image
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), BOXES + [left, top] * 2)
    assert_consistent(out)


def test_expand_with_probability_zero_and_seg_map():
    results = results_with()
    assert Expand(prob=0.0)(results)["img"].shape == (20, 30, 3)
    results["gt_seg_map"] = np.zeros((20, 30), np.uint8)
    np.random.seed(0)
    out = Expand(ratio_range=(2, 2), seg_ignore_label=255, prob=1.0)(results)
    assert out["gt_seg_map"].shape == (40, 60) and (out["gt_seg_map"] == 255).sum() == 40 * 60 - 600
    with pytest.raises(ValueError, match="set seg_ignore_label to expand"):
        Expand(prob=1.0)(results_with() | {"gt_seg_map": np.zeros((20, 30), np.uint8)})


@pytest.mark.parametrize("polygons", [False, True])
def test_min_iou_random_crop_keeps_annotations_consistent(polygons):
    crop = MinIoURandomCrop(min_ious=(0.1, 0.3), min_crop_size=0.5)
    cropped = 0
    for seed in range(10):
        np.random.seed(seed)
        out = crop(results_with(polygons=polygons))
        if "homography_matrix" not in out:
            assert out["img"].shape == (20, 30, 3)  # mode 1: unchanged
            continue
        cropped += 1
        height, width = out["img"].shape[:2]
        assert 10 <= height <= 20 and 15 <= width <= 30
        assert_consistent(out)
    assert cropped


def test_min_iou_random_crop_keeps_only_boxes_whose_centres_are_inside():
    np.random.seed(3)
    out = MinIoURandomCrop(min_ious=(0.0,), min_crop_size=0.3)(results_with())
    assert "homography_matrix" in out
    dx, dy = out["homography_matrix"][:2, 2]
    height, width = out["img"].shape[:2]
    centres = (BOXES[:, :2] + BOXES[:, 2:]) / 2 + [dx, dy]
    inside = ((centres > 0) & (centres < [width, height])).all(axis=1)
    assert out["gt_bboxes_labels"].tolist() == np.flatnonzero(inside).tolist()


# ---------------------------------------------------------------------------- affine
def test_random_affine_scale_and_shift_keeps_masks_on_their_boxes():
    affine = RandomAffine(max_rotate_degree=0, max_shear_degree=0, max_translate_ratio=0.2,
                          scaling_ratio_range=(0.8, 1.2), border=(3, -2))
    for seed in range(5):
        for polygons in (False, True):
            np.random.seed(seed)
            out = affine(results_with(polygons=polygons))
            assert out["img"].shape == (16, 36, 3)
            assert_consistent(out, mask_atol=1e-4 if polygons else 1.0)


def test_random_affine_rotation_keeps_masks_inside_their_boxes():
    affine = RandomAffine(max_rotate_degree=40, max_shear_degree=5, scaling_ratio_range=(1, 1))
    for seed in range(5):
        np.random.seed(seed)
        out = affine(results_with())
        boxes = out["gt_bboxes"].tensor.numpy()
        bounds = mask_boxes(out["gt_masks"])
        nonempty = out["gt_masks"].areas > 0
        assert (bounds[nonempty, :2] >= boxes[nonempty, :2] - 1).all()
        assert (bounds[nonempty, 2:] <= boxes[nonempty, 2:] + 1).all()
        expected = HorizontalBoxes(BOXES[out["gt_bboxes_labels"]])
        expected.project_(out["homography_matrix"])
        expected.clip_(out["img"].shape[:2])
        np.testing.assert_allclose(boxes, expected.tensor.numpy(), atol=1e-3)


# ---------------------------------------------------------------------------- pipelines
def test_geometric_pipeline_keeps_everything_consistent():
    pipeline = Compose([
        dict(type="Resize", scale_factor=2.0, keep_ratio=True),
        dict(type="RandomFlip", prob=[0.3, 0.3, 0.3], direction=["horizontal", "vertical",
                                                                 "diagonal"]),
        dict(type="Expand", ratio_range=(1.2, 2.0), prob=1.0),
        dict(type="Pad", size_divisor=16),
        dict(type="RandomCrop", crop_size=(45, 35), allow_negative_crop=True),
    ])  # the crop clips last, so clipping the projected original boxes once reproduces it
    for seed in range(6):
        for polygons in (False, True):
            np.random.seed(seed)
            assert_consistent(pipeline(results_with(polygons=polygons)))


@pytest.mark.parametrize("make", [
    lambda: RandomFlip(prob=0.5), lambda: RandomCrop((15, 10), allow_negative_crop=True),
    lambda: Expand(prob=0.5), lambda: MinIoURandomCrop(),
    lambda: RandomAffine(max_rotate_degree=20),
    lambda: RandomResize(scale=(60, 40), ratio_range=(0.5, 2.0))])
def test_random_geometric_transforms_reproduce_under_a_seed(make):
    outputs = []
    for seed in (5, 5, 6, 7, 8):
        np.random.seed(seed)
        outputs.append(make()(results_with()))
    first, again = outputs[:2]
    np.testing.assert_array_equal(first["img"], again["img"])
    np.testing.assert_array_equal(first["gt_bboxes"].tensor, again["gt_bboxes"].tensor)
    assert any(out["img"].shape != first["img"].shape or not np.array_equal(out["img"], first["img"])
               for out in outputs[2:])


def test_grayscale_images_go_through_geometric_transforms():
    results = results_with()
    results["img"] = results["img"][..., 0].copy()
    np.random.seed(0)
    out = Compose([Resize(scale=(60, 40), keep_ratio=True), RandomFlip(prob=1.0),
                   Expand(prob=1.0, ratio_range=(2, 2)), RandomCrop((50, 50)),
                   RandomAffine(), Pad(size_divisor=32)])(results)
    assert out["img"].ndim == 2 and out["img"].shape == (64, 64)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, error, message", [
    (lambda: Resize(), ValueError, "give scale or scale_factor"),
    (lambda: Resize(scale=(2, 2), backend="pillow"), ValueError, "backend must be 'cv2'"),
    (lambda: Resize(scale="big"), TypeError, "scale must be a number or a pair"),
    (lambda: RandomFlip(), ValueError, "prob must be a float or a list of floats"),
    (lambda: RandomFlip(prob=1.5), ValueError, "prob must be in \\[0, 1\\]"),
    (lambda: RandomFlip(prob=[0.5], direction=["horizontal", "vertical"]), ValueError,
     "one probability per direction"),
    (lambda: RandomFlip(prob=0.5, direction="up"), ValueError, "direction must be one of"),
    (lambda: Pad(), ValueError, "give exactly one of size and size_divisor"),
    (lambda: Pad(size=(4, 4), pad_to_square=True), ValueError, "cannot be used together"),
    (lambda: Pad(size=(4, 4), padding_mode="wrap"), ValueError, "padding_mode must be one of"),
    (lambda: RandomCrop((4, 4), crop_type="square"), ValueError, "crop_type must be one of"),
    (lambda: RandomCrop((0.5, 0.5)), ValueError, "needs positive int crop_size"),
    (lambda: RandomCrop((2, 0.5), crop_type="relative"), ValueError, "ratios in \\(0, 1\\]"),
    (lambda: Expand(ratio_range=(0.5, 2)), ValueError, "1 <= min <= max"),
    (lambda: RandomAffine(scaling_ratio_range=(2, 1)), ValueError, "0 < min <= max"),
    (lambda: RandomResize(scale=(60, 40)), ValueError, "two \\(w, h\\) bounds"),
    (lambda: RandomResize(scale=(60, 40), ratio_range=(2, 1)), ValueError, "min <= max"),
    (lambda: RandomChoiceResize(scales=[]), ValueError, "non-empty list"),
    (lambda: FixShapeResize(width=None, height=3), ValueError, "width and height are required"),
])
def test_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_missing_inputs_are_named():
    with pytest.raises(KeyError, match="Resize needs results\\['img'\\]"):
        Resize(scale=(4, 4))(dict(img_path="a.jpg"))
    with pytest.raises(KeyError, match="MinIoURandomCrop needs results\\['gt_bboxes'\\]"):
        MinIoURandomCrop()(dict(img=np.zeros((4, 4, 3), np.uint8)))


def test_repr_shows_the_arguments():
    assert repr(Resize(scale=(4, 3), keep_ratio=True)) == (
        "Resize(scale=(4, 3), scale_factor=None, keep_ratio=True, clip_object_border=True, "
        "backend='cv2', interpolation='bilinear')")
    assert "crop_size=(4, 3)" in repr(RandomCrop((4, 3)))
