"""detyolo's training transforms, batch shapes and YOLOv5CocoDataset.

References: Ultralytics (LetterBox, RandomHSV, merge_multi_segment, the rect batch shapes
of its BaseDataset), hand-computed placements and warps, and the invariants every
transform keeps (one box, label, flag and mask per object, everything on the canvas).
"""

import json
import types

import cv2
import numpy as np
import pytest
import torch

from detcore.registry import TASK_UTILS
from detcore.structures import BitmapMasks, HorizontalBoxes, PolygonMasks
from detyolo.datasets import BatchShapePolicy, YOLOv5CocoDataset
from detyolo.transforms import (
    LetterResize,
    Mosaic9,
    YOLOLoadAnnotations,
    YOLOMosaic,
    YOLOv5HSVRandomAug,
    YOLOv5KeepRatioResize,
    YOLOv5MixUp,
    YOLOv5RandomAffine,
    YOLOXMixUp,
    merge_polygons,
)


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _sample(h=60, w=80, boxes=((10, 10, 30, 40), (40, 20, 70, 50)), seed=0, masks=False):
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    results = {"img": _image(h, w, seed), "img_shape": (h, w), "ori_shape": (h, w),
               "gt_bboxes": HorizontalBoxes(boxes),
               "gt_bboxes_labels": np.arange(len(boxes), dtype=np.int64),
               "gt_ignore_flags": np.zeros(len(boxes), dtype=bool)}
    if masks:  # each object's mask is its box as a polygon, so the two can be compared
        results["gt_masks"] = PolygonMasks(
            [[np.array([x1, y1, x2, y1, x2, y2, x1, y2], dtype=np.float64)]
             for x1, y1, x2, y2 in boxes], h, w)
    return results


def _assert_objects_aligned(results):
    n = len(results["gt_bboxes"])
    assert len(results["gt_bboxes_labels"]) == n and len(results["gt_ignore_flags"]) == n
    if "gt_masks" in results:
        assert len(results["gt_masks"]) == n
    h, w = results["img_shape"][:2]
    assert results["img"].shape[:2] == (h, w)
    boxes = results["gt_bboxes"].tensor
    assert bool(((boxes[:, 0::2] >= 0) & (boxes[:, 0::2] <= w)).all())
    assert bool(((boxes[:, 1::2] >= 0) & (boxes[:, 1::2] <= h)).all())


# ---------------------------------------------------------------------------- letterbox
@pytest.mark.parametrize("shape", [(480, 640), (100, 37), (333, 517), (700, 300), (640, 640)])
@pytest.mark.parametrize("mode", ["plain", "no_scale_up", "mini_pad", "stretch"])
def test_letter_resize_matches_ultralytics_letterbox(shape, mode):
    from ultralytics.data.augment import LetterBox

    img = _image(*shape)
    letterbox = LetterBox(new_shape=(640, 640), auto=mode == "mini_pad", scaleup=mode != "no_scale_up",
                          scale_fill=mode == "stretch", stride=32, padding_value=114)
    params = letterbox.get_params({"img": img})
    expected = letterbox(image=img.copy())
    ours = LetterResize(scale=(640, 640), pad_val=dict(img=114), use_mini_pad=mode == "mini_pad",
                        stretch_only=mode == "stretch", allow_scale_up=mode != "no_scale_up")(
        {"img": img.copy()})
    assert ours["img"].shape == expected.shape
    assert np.array_equal(ours["img"], expected)
    assert ours["pad_param"].tolist() == [params["top"], params["bottom"], params["left"],
                                          params["right"]]
    new_w, new_h = params["new_unpad"]
    assert ours["scale_factor"] == pytest.approx((new_w / shape[1], new_h / shape[0]))
    assert ours["img_shape"] == expected.shape[:2]


def test_letter_resize_moves_boxes_and_masks_by_hand():
    # 100 x 200 (h, w) to 640: factor 3.2 -> 320 x 640, padded 160 above and below
    results = _sample(h=100, w=200, boxes=[(10, 20, 30, 40), (150, 0, 200, 100)], masks=True)
    out = LetterResize(scale=640, pad_val=114)(results)
    expected = [[32, 64 + 160, 96, 128 + 160], [480, 160, 640, 320 + 160]]
    np.testing.assert_allclose(out["gt_bboxes"].tensor.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(out["gt_masks"].get_bboxes().numpy(), expected, rtol=1e-6)
    assert (out["gt_masks"].height, out["gt_masks"].width) == (640, 640)
    assert out["pad_param"].tolist() == [160, 160, 0, 0]
    assert (out["img"][:160] == 114).all() and (out["img"][480:] == 114).all()
    # the recorded homography maps original coordinates onto the letterboxed image
    corner = out["homography_matrix"] @ np.array([30, 40, 1.0])
    assert corner[:2].tolist() == pytest.approx([96, 288])


def test_letter_resize_uses_the_batch_shape_and_keeps_bitmap_masks_aligned():
    results = _sample(h=100, w=200, boxes=[(10, 20, 30, 40)])
    bitmap = np.zeros((1, 100, 200), dtype=np.uint8)
    bitmap[0, 20:40, 10:30] = 1
    results["gt_masks"] = BitmapMasks(bitmap, 100, 200)
    results["batch_shape"] = np.array([352, 640])  # (h, w) from BatchShapePolicy
    out = LetterResize(scale=640, allow_scale_up=False)(results)
    # no upscaling: the 100 x 200 image is padded to 352 x 640 (126 / 126 rows, 220 / 220 cols)
    assert out["img"].shape == (352, 640, 3)
    assert out["pad_param"].tolist() == [126, 126, 220, 220]
    assert out["gt_bboxes"].tensor.tolist() == [[230, 146, 250, 166]]
    assert out["gt_masks"].get_bboxes().tolist() == [[230, 146, 250, 166]]


def test_keep_ratio_resize_then_letterbox_compose_factors_and_padding():
    results = _sample(h=300, w=1000, boxes=[(100, 50, 500, 250)])
    results = YOLOv5KeepRatioResize(scale=640)(results)
    # long side to 640: factor 0.64, shrunk with INTER_AREA, sides truncated
    assert results["img"].shape[:2] == (192, 640)
    assert np.array_equal(results["img"], cv2.resize(_image(300, 1000), (640, 192),
                                                     interpolation=cv2.INTER_AREA))
    assert results["scale_factor"] == pytest.approx((0.64, 0.64))
    results = LetterResize(scale=640, allow_scale_up=False, pad_val=dict(img=114))(results)
    assert results["img"].shape[:2] == (640, 640)
    assert results["pad_param"].tolist() == [224, 224, 0, 0]
    # scale_factor maps the original image onto the final one (before the padding)
    assert results["scale_factor"] == pytest.approx((0.64, 0.64))
    np.testing.assert_allclose(results["gt_bboxes"].tensor.numpy(), [[64, 32 + 224, 320, 160 + 224]],
                               rtol=1e-6)
    # enlarging uses bilinear interpolation
    small = YOLOv5KeepRatioResize(scale=(64, 64))({"img": _image(16, 32)})
    assert np.array_equal(small["img"], cv2.resize(_image(16, 32), (64, 32),
                                                   interpolation=cv2.INTER_LINEAR))


def test_letter_resize_adds_an_earlier_pad_param_scaled():
    results = {"img": _image(50, 100), "pad_param": np.array([2, 4, 6, 8], dtype=np.float32)}
    out = LetterResize(scale=(200, 200))(results)  # factor 2: 100 x 200, padded 50 / 50 rows
    assert out["pad_param"].tolist() == [50 + 4, 50 + 8, 0 + 12, 0 + 16]
    assert LetterResize(scale=200, half_pad_param=True)({"img": _image(50, 100)})[
        "pad_param"].tolist() == [50, 50, 0, 0]


def test_letter_resize_errors_name_the_argument():
    with pytest.raises(ValueError, match="use_mini_pad and stretch_only exclude each other"):
        LetterResize(scale=640, use_mini_pad=True, stretch_only=True)
    with pytest.raises(TypeError, match="pad_val must be a number or a dict"):
        LetterResize(scale=640, pad_val=[114])
    with pytest.raises(ValueError, match=r"results\['batch_shape'\] must be \(h, w\)"):
        LetterResize(scale=640)({"img": _image(8, 8), "batch_shape": [1, 2, 3]})
    with pytest.raises(ValueError, match="keep_ratio must be True"):
        YOLOv5KeepRatioResize(scale=640, keep_ratio=False)


# ---------------------------------------------------------------------------- HSV
def test_hsv_matches_ultralytics_random_hsv_with_the_same_draw():
    from ultralytics.data.augment import RandomHSV

    img = _image(40, 50)
    # Ultralytics >= 8.3.79 shifts hue additively (YOLOv5 multiplies); with no hue change the
    # two agree exactly, and both draw uniform(-1, 1, 3) * gains first.
    np.random.seed(3)
    expected = RandomHSV(hgain=0.0, sgain=0.7, vgain=0.4).apply_image({"img": img.copy()})["img"]
    np.random.seed(3)
    ours = YOLOv5HSVRandomAug(hue_delta=0.0)({"img": img.copy()})["img"]
    assert np.array_equal(ours, expected)
    assert not np.array_equal(ours, img)


def test_hsv_multiplies_each_channel_by_hand():
    img = _image(20, 30, seed=5)
    np.random.seed(11)
    out = YOLOv5HSVRandomAug(hue_delta=0.5, saturation_delta=0.7, value_delta=0.4)(
        {"img": img.copy()})["img"]
    np.random.seed(11)
    gains = np.random.uniform(-1, 1, 3) * [0.5, 0.7, 0.4] + 1
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float64)
    hsv[..., 0] = np.floor(hsv[..., 0] * gains[0]) % 180  # uint8 casts truncate
    hsv[..., 1:] = np.floor(np.clip(hsv[..., 1:] * gains[1:], 0, 255))
    expected = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    assert np.array_equal(out, expected)
    with pytest.raises(ValueError, match=r"needs a uint8 \(H, W, 3\) BGR image, got float32"):
        YOLOv5HSVRandomAug()({"img": img.astype(np.float32)})


# ---------------------------------------------------------------------------- affine
def test_random_affine_identity_warp_keeps_everything():
    results = _sample(masks=True)
    out = YOLOv5RandomAffine(max_rotate_degree=0, max_translate_ratio=0, scaling_ratio_range=(1, 1),
                             max_shear_degree=0)(results)
    assert np.array_equal(out["img"], _image(60, 80))
    assert out["gt_bboxes"].tensor.tolist() == [[10, 10, 30, 40], [40, 20, 70, 50]]
    np.testing.assert_allclose(out["gt_masks"].get_bboxes().numpy(), [[10, 10, 30, 40], [40, 20, 70, 50]],
                               atol=1e-4)
    assert np.allclose(out["homography_matrix"], np.eye(3))


def test_random_affine_border_crops_the_canvas_around_the_centre():
    # border (-20, -15): a 50 x 40 canvas showing the centre of the 80 x 60 image
    results = _sample(boxes=[(10, 10, 30, 40), (22, 17, 60, 45), (0, 0, 15, 12)])
    out = YOLOv5RandomAffine(max_rotate_degree=0, max_translate_ratio=0, scaling_ratio_range=(1, 1),
                             max_shear_degree=0, border=(-20, -15))(results)
    assert out["img"].shape == (30, 40, 3) and out["img_shape"] == (30, 40)
    assert np.array_equal(out["img"], _image(60, 80)[15:45, 20:60])
    # shifted by (-20, -15) and clipped: the first keeps 10 x 25 of its 20 x 30 (area ratio
    # 0.42 > 0.1); the third is left with nothing and goes with its label
    assert out["gt_bboxes"].tensor.tolist() == [[0, 0, 10, 25], [2, 2, 40, 30]]
    assert out["gt_bboxes_labels"].tolist() == [0, 1]
    _assert_objects_aligned(out)


def test_random_affine_warp_and_filters_by_hand():
    np.random.seed(0)
    transform = YOLOv5RandomAffine(max_rotate_degree=30, max_translate_ratio=0.2,
                                   scaling_ratio_range=(0.6, 1.4), max_shear_degree=5,
                                   min_area_ratio=0.0, max_aspect_ratio=1e9, min_bbox_size=0)
    out = transform(_sample(h=60, w=80))
    np.random.seed(0)  # the same draws, in MMYOLO's order: rotation, scale, shear x/y, position
    degrees, scale = np.random.uniform(-30, 30), np.random.uniform(0.6, 1.4)
    shear_x, shear_y = np.random.uniform(-5, 5, 2)
    place_x, place_y = np.random.uniform(0.3, 0.7) * 80, np.random.uniform(0.3, 0.7) * 60
    a, sx, sy = np.radians(degrees), np.tan(np.radians(shear_x)), np.tan(np.radians(shear_y))
    matrix = (np.array([[1, 0, place_x], [0, 1, place_y], [0, 0, 1]])
              @ np.array([[1, sx, 0], [sy, 1, 0], [0, 0, 1]])
              @ np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
              @ np.diag([scale, scale, 1]) @ np.array([[1, 0, -40], [0, 1, -30], [0, 0, 1]]))
    expected = []
    for x1, y1, x2, y2 in [(10, 10, 30, 40), (40, 20, 70, 50)]:
        corners = matrix @ np.array([[x1, x2, x2, x1], [y1, y1, y2, y2], [1, 1, 1, 1]])
        xs, ys = corners[0] / corners[2], corners[1] / corners[2]
        expected.append([max(xs.min(), 0), max(ys.min(), 0), min(xs.max(), 80), min(ys.max(), 60)])
    assert out["gt_bboxes"].tensor.numpy() == pytest.approx(np.array(expected), abs=1e-3)
    assert np.allclose(out["homography_matrix"], matrix, atol=1e-4)


def test_random_affine_drops_small_thin_and_shrunk_boxes():
    boxes = [(0, 0, 10, 10),    # 5 x 5 after scaling by 0.5: kept
             (20, 0, 23, 40),   # 1.5 wide: below min_bbox_size 2
             (30, 0, 80, 1.2),  # 0.6 high
             (0, 20, 44, 24)]   # aspect 11 > max_aspect_ratio 10
    out = YOLOv5RandomAffine(max_rotate_degree=0, max_translate_ratio=0, scaling_ratio_range=(0.5, 0.5),
                             max_shear_degree=0, max_aspect_ratio=10)(_sample(boxes=boxes, masks=True))
    # the image centre (40, 30) stays put: x' = 0.5 x + 20, y' = 0.5 y + 15
    assert out["gt_bboxes_labels"].tolist() == [0]
    assert out["gt_bboxes"].tensor.tolist() == [[20, 15, 25, 20]]
    _assert_objects_aligned(out)
    # min_area_ratio compares with the original box scaled by the warp's scale
    half_out = _sample(boxes=[(70, 10, 90, 30)], w=80)  # half of it lies beyond x = 80
    out = YOLOv5RandomAffine(max_rotate_degree=0, max_translate_ratio=0, scaling_ratio_range=(1, 1),
                             max_shear_degree=0, min_area_ratio=0.6)(half_out)
    assert len(out["gt_bboxes"]) == 0 and len(out["gt_bboxes_labels"]) == 0


def test_random_affine_refines_rotated_boxes_from_polygons():
    # a diamond inscribed in its box: turned by 45 degrees it becomes an axis-aligned square,
    # whose box is much tighter than the box of the turned box corners
    diamond = np.array([40, 10, 60, 30, 40, 50, 20, 30], dtype=np.float64)
    results = _sample(h=60, w=80, boxes=[(20, 10, 60, 50)])
    results["gt_masks"] = PolygonMasks([[diamond]], 60, 80)
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    turn = np.array([[c, -s, 40 - 40 * c + 30 * s], [s, c, 30 - 40 * s - 30 * c], [0, 0, 1]],
                    dtype=np.float32)  # 45 degrees about the image centre (40, 30)
    transform = YOLOv5RandomAffine(resample_num=5)
    transform.random_warp = lambda img_h, img_w, height, width: (turn, 1.0)
    out = transform(results)
    side = 20 * np.sqrt(2)  # the diamond's side becomes the square's
    box = out["gt_bboxes"].tensor[0].numpy()
    assert box == pytest.approx([40 - side / 2, 30 - side / 2, 40 + side / 2, 30 + side / 2], abs=1e-3)
    assert out["gt_masks"].get_bboxes()[0].numpy() == pytest.approx(box, abs=1e-3)
    assert len(out["gt_masks"].masks[0][0]) == 2 * 5
    # without the polygon, the turned corners of the 40 x 40 box span 40 * sqrt(2)
    corner_box = YOLOv5RandomAffine()
    corner_box.random_warp = transform.random_warp
    wide = corner_box(_sample(h=60, w=80, boxes=[(20, 10, 60, 50)]))["gt_bboxes"].tensor[0]
    assert float(wide[3] - wide[1]) == pytest.approx(min(40 * np.sqrt(2), 60), abs=1e-3)


def test_random_affine_errors():
    with pytest.raises(ValueError, match=r"scaling_ratio_range must be \(min, max\)"):
        YOLOv5RandomAffine(scaling_ratio_range=(1.5, 0.5))
    with pytest.raises(ValueError, match=r"max_translate_ratio must be in \[0, 1\]"):
        YOLOv5RandomAffine(max_translate_ratio=2)
    results = _sample()
    results["gt_masks"] = BitmapMasks(np.zeros((2, 60, 80), np.uint8), 60, 80)
    with pytest.raises(TypeError, match="needs gt_masks as PolygonMasks, got BitmapMasks"):
        YOLOv5RandomAffine()(results)
    with pytest.raises(ValueError, match="leaves no canvas"):
        YOLOv5RandomAffine(border=(-40, 0))(_sample())


# ---------------------------------------------------------------------------- mixing
class _Records:
    """A dataset stand-in: records with an in-memory image and boxes (no files)."""

    def __init__(self, count=6, h=60, w=80):
        self.records = [_sample(h=h, w=w, seed=i, boxes=[(5 + i, 5, 25 + i, 30)]) for i in range(count)]
        for i, record in enumerate(self.records):
            record["gt_bboxes_labels"] = np.array([i])
            record["instances"] = [{"bbox": [5 + i, 5, 25 + i, 30], "bbox_label": i}]  # the raw record

    def __len__(self):
        return len(self.records)

    def get_data_info(self, index):
        record = self.records[index]
        return {**record, "gt_bboxes": record["gt_bboxes"].clone(), "sample_idx": index}


def test_mosaic_draws_from_the_dataset_and_keeps_objects_aligned():
    dataset = _Records()
    np.random.seed(0)
    results = dataset.get_data_info(0)
    results["dataset"] = dataset
    out = YOLOMosaic(img_scale=(80, 60), pre_transform=[lambda r: r])(results)
    assert out["img"].shape == (120, 160, 3) and out["img_shape"] == (120, 160)
    assert out["dataset"] is dataset  # handed on to the next mixing transform
    assert "mix_results" not in out
    assert 1 < len(out["gt_bboxes"]) <= 4 and out["gt_bboxes_labels"][0] == 0
    _assert_objects_aligned(out)
    # the first image ends at the centre: its pixels sit just above-left of it
    np.random.seed(0)
    np.random.uniform(0, 1)  # the prob draw
    np.random.randint(0, 6, 3)  # the three indexes
    np.random.uniform(0, 1)  # detdatasets' Mosaic prob draw
    cx, cy = int(np.random.uniform(0.5, 1.5) * 80), int(np.random.uniform(0.5, 1.5) * 60)
    assert np.array_equal(out["img"][cy - 1, cx - 1], _image(60, 80, 0)[59, 79])


def test_mosaic_probability_cache_and_errors():
    dataset = _Records()
    results = {**dataset.get_data_info(1), "dataset": dataset}
    assert YOLOMosaic(img_scale=(80, 60), prob=0.0)(results)["img"].shape == (60, 80, 3)
    with pytest.raises(KeyError, match=r"needs results\['dataset'\] to draw other images"):
        YOLOMosaic(img_scale=(80, 60))(dataset.get_data_info(1))
    with pytest.raises(ValueError, match="max_cached_images must be >= 4, got 3"):
        YOLOMosaic(use_cached=True, max_cached_images=3)
    with pytest.raises(RuntimeError, match="pre_transform returned None .* 2 times in a row"):
        YOLOMosaic(img_scale=(80, 60), pre_transform=[lambda r: None], max_refetch=2)(
            {**dataset.get_data_info(1), "dataset": dataset})

    cached = YOLOMosaic(img_scale=(80, 60), use_cached=True, max_cached_images=5, random_pop=False)
    shapes = [cached(dataset.get_data_info(i % 6))["img"].shape for i in range(7)]
    # the first four samples only fill the cache; then every sample is mixed
    assert shapes[:4] == [(60, 80, 3)] * 4 and shapes[4:] == [(120, 160, 3)] * 3
    assert len(cached.results_cache) == 5
    assert cached.results_cache[0]["sample_idx"] == 2  # FIFO: samples 0 and 1 left first
    assert "instances" not in cached.results_cache[0] and "img" in cached.results_cache[0]
    # with a dataset at hand, the samples that find the cache too small draw from the dataset
    warm = YOLOMosaic(img_scale=(80, 60), use_cached=True)
    out = warm({**dataset.get_data_info(0), "dataset": dataset})
    assert out["img"].shape == (120, 160, 3) and out["dataset"] is dataset


def test_mosaic9_places_the_centre_image_and_crops_a_window():
    dataset = _Records(count=9)
    np.random.seed(4)
    out = Mosaic9(img_scale=(80, 60))({**dataset.get_data_info(0), "dataset": dataset})
    assert out["img"].shape == (120, 160, 3)
    _assert_objects_aligned(out)
    np.random.seed(4)
    np.random.uniform(0, 1)
    np.random.randint(0, 9, 8)
    offset_x, offset_y = int(np.random.uniform(0, 80)), int(np.random.uniform(0, 60))
    # the centre image fills [80, 160) x [60, 120) of the 3x canvas; the window starts at the offset
    x0, y0 = 80 - offset_x, 60 - offset_y
    assert np.array_equal(out["img"][y0:y0 + 60, x0:x0 + 80], _image(60, 80, 0)[:120 - y0, :160 - x0])
    center_box = out["gt_bboxes"].tensor[out["gt_bboxes_labels"] == 0][0].tolist()
    assert center_box == pytest.approx([5 + x0, 5 + y0, min(25 + x0, 160), min(30 + y0, 120)])
    assert out["homography_matrix"] == pytest.approx(np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]]))


def test_mosaic9_moves_masks_with_their_boxes():
    dataset = _Records(count=9)
    for record in dataset.records:
        x1, y1, x2, y2 = record["gt_bboxes"].tensor[0].tolist()
        record["gt_masks"] = PolygonMasks([[np.array([x1, y1, x2, y1, x2, y2, x1, y2], float)]], 60, 80)
    np.random.seed(2)
    out = Mosaic9(img_scale=(80, 60))({**dataset.get_data_info(0), "dataset": dataset})
    assert out["gt_masks"].get_bboxes().numpy() == pytest.approx(out["gt_bboxes"].tensor.numpy())
    assert (out["gt_masks"].height, out["gt_masks"].width) == (120, 160)


def test_yolov5_mixup_blends_with_a_beta_ratio():
    dataset = _Records()
    np.random.seed(7)
    first = dataset.get_data_info(0)
    out = YOLOv5MixUp()({**first, "dataset": dataset})
    np.random.seed(7)
    np.random.uniform(0, 1)
    other = int(np.random.randint(0, 6))
    ratio = np.random.beta(32.0, 32.0)
    expected = (_image(60, 80, 0) * ratio + _image(60, 80, other) * (1 - ratio)).astype(np.uint8)
    assert np.array_equal(out["img"], expected)
    assert out["gt_bboxes_labels"].tolist() == [0, other]
    assert out["gt_bboxes"].tensor.tolist() == [[5, 5, 25, 30], [5 + other, 5, 25 + other, 30]]

    small = _Records(h=30, w=40)
    with pytest.raises(ValueError, match=r"the mixed-in image has shape \(30, 40, 3\)"):
        YOLOv5MixUp()({**first, "dataset": small})


def test_yoloxmixup_keeps_the_size_and_both_images_objects():
    dataset = _Records()
    np.random.seed(1)
    out = YOLOXMixUp(img_scale=(80, 60), ratio_range=(1.0, 1.0), flip_ratio=1.0)(
        {**dataset.get_data_info(0), "dataset": dataset})
    assert out["img"].shape == (60, 80, 3)
    assert len(out["gt_bboxes"]) == 2 and out["gt_bboxes_labels"][0] == 0
    # ratio 1 and no flip: the other image lies unscaled at the top left, crop offset 0
    assert out["gt_bboxes"].tensor[1].tolist() == pytest.approx(
        dataset.records[out["gt_bboxes_labels"][1]]["gt_bboxes"].tensor[0].tolist())
    _assert_objects_aligned(out)


def test_mixing_inside_multi_image_mix_dataset_uses_its_mix_results():
    others = [_sample(seed=i, boxes=[(1, 1, 9, 9)]) for i in range(3)]
    np.random.seed(0)
    out = YOLOMosaic(img_scale=(80, 60))({**_sample(), "mix_results": others})
    assert out["img"].shape == (120, 160, 3) and "dataset" not in out
    _assert_objects_aligned(out)


# ---------------------------------------------------------------------------- loading
def test_merge_polygons_matches_ultralytics():
    from ultralytics.data.converter import merge_multi_segment

    rng = np.random.default_rng(0)
    for count in (2, 3, 4):
        polygons = [(rng.random(2 * int(rng.integers(3, 9))) * 100) for _ in range(count)]
        expected = np.concatenate(merge_multi_segment([p.tolist() for p in polygons])).reshape(-1)
        assert np.allclose(merge_polygons(polygons), expected)
    single = np.array([0, 0, 4, 0, 4, 4.0])
    assert np.array_equal(merge_polygons([single]), single)


def test_load_annotations_drops_ignored_and_unusable_objects_and_boxes_from_masks():
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    far = [20, 20, 30, 20, 30, 25]
    instances = [
        {"bbox": [0, 0, 10, 10], "bbox_label": 1, "ignore_flag": 0, "mask": [square]},
        {"bbox": [1, 1, 5, 5], "bbox_label": 2, "ignore_flag": 1, "mask": [square]},
        {"bbox": [0, 0, 30, 25], "bbox_label": 3, "ignore_flag": 0, "mask": [square, far]},
        {"bbox": [2, 2, 6, 6], "bbox_label": 4, "ignore_flag": 0, "mask": [[1, 2]]}]
    out = YOLOLoadAnnotations(with_mask=True, mask2bbox=True)(
        {"ori_shape": (40, 40), "instances": [dict(i) for i in instances]})
    assert out["gt_bboxes_labels"].tolist() == [1, 3]
    assert out["gt_ignore_flags"].tolist() == [False, False]
    assert out["gt_bboxes"].tensor.tolist() == [[0, 0, 10, 10], [0, 0, 30, 25]]
    assert [len(parts) for parts in out["gt_masks"].masks] == [1, 1]  # merged into one polygon
    plain = YOLOLoadAnnotations()({"instances": [dict(i) for i in instances[:2]]})
    assert plain["gt_bboxes"].tensor.tolist() == [[0, 0, 10, 10]] and "gt_masks" not in plain


def test_load_annotations_argument_errors():
    with pytest.raises(ValueError, match="poly2mask must be False"):
        YOLOLoadAnnotations(poly2mask=True)
    with pytest.raises(ValueError, match="mask2bbox=True needs with_mask=True"):
        YOLOLoadAnnotations(mask2bbox=True)


# ---------------------------------------------------------------------------- batch shapes
def test_batch_shape_policy_matches_ultralytics_rect_batches():
    from ultralytics.data.base import BaseDataset as UltralyticsDataset

    rng = np.random.default_rng(0)
    sizes = [(int(h), int(w)) for h, w in rng.integers(100, 1000, (23, 2))] + [(500, 500)] * 3
    records = [{"img_id": i, "height": h, "width": w} for i, (h, w) in enumerate(sizes)]
    ours = BatchShapePolicy(batch_size=4, img_size=640, size_divisor=32, extra_pad_ratio=0.5)(records)

    peer = types.SimpleNamespace(ni=len(sizes), batch_size=4, imgsz=640, stride=32, pad=0.5,
                                 im_files=[str(i) for i in range(len(sizes))],
                                 labels=[{"shape": s, "id": i} for i, s in enumerate(sizes)])
    UltralyticsDataset.set_rectangle(peer)
    expected = {label["id"]: tuple(peer.batch_shapes[b]) for label, b in zip(peer.labels, peer.batch)}
    assert {r["img_id"]: tuple(r["batch_shape"]) for r in ours} == expected
    aspect = [r["height"] / r["width"] for r in ours]
    assert aspect == sorted(aspect)


def test_batch_shape_policy_by_hand_and_errors():
    records = [{"height": 480, "width": 640}, {"height": 640, "width": 320}, {"height": 300, "width": 600}]
    out = BatchShapePolicy(batch_size=2, img_size=640)(records)
    # batch 0: h/w 0.5 and 0.75 -> (0.75, 1) * 20 + 0.5 -> ceil(15.5, 20.5) * 32; batch 1: 2.0 -> (1, 0.5)
    assert [r["batch_shape"].tolist() for r in out] == [[512, 672], [512, 672], [672, 352]]
    assert BatchShapePolicy()([]) == []
    with pytest.raises(KeyError, match=r"records \[0\] have no 'width'/'height'"):
        BatchShapePolicy()([{"height": 3}])
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        BatchShapePolicy(batch_size=0)


def _coco(tmp_path, sizes):
    images, annotations = [], []
    (tmp_path / "img").mkdir()
    for i, (h, w) in enumerate(sizes, start=1):
        cv2.imwrite(str(tmp_path / "img" / f"{i}.png"), _image(h, w, seed=i))
        images.append({"id": i, "file_name": f"{i}.png", "height": h, "width": w})
        annotations.append({"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 5, 5],
                            "area": 25, "iscrowd": 0})
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "thing"}]}))
    return dict(data_root=str(tmp_path), ann_file="ann.json", data_prefix=dict(img="img/"),
                metainfo=dict(classes=("thing",)))


def test_yolov5_coco_dataset_sorts_for_batch_shapes_and_letterboxes_to_them(tmp_path):
    TASK_UTILS.register_module(module=BatchShapePolicy, force=True)
    sizes = [(40, 80), (80, 40), (64, 64), (30, 90), (90, 30)]
    load = lambda r: {**r, "img": cv2.imread(r["img_path"]), "img_shape": (r["height"], r["width"])}  # noqa: E731
    dataset = YOLOv5CocoDataset(**_coco(tmp_path, sizes), test_mode=True,
                                batch_shapes_cfg=dict(type="BatchShapePolicy", batch_size=2,
                                                      img_size=64, size_divisor=32),
                                pipeline=[load, LetterResize(scale=64, allow_scale_up=False)])
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i["height"], i["width"]) for i in infos] == [(30, 90), (40, 80), (64, 64), (80, 40), (90, 30)]
    assert [i["batch_shape"].tolist() for i in infos] == [[64, 96]] * 2 + [[96, 96]] * 2 + [[96, 64]]
    assert dataset.serialize_data and dataset.data_bytes is not None
    assert dataset[0]["img"].shape == (64, 96, 3) and dataset[4]["img"].shape == (96, 64, 3)
    assert "dataset" not in dataset[0]
    # detdatasets' PackDetInputs carries pad_param (MMYOLO's PackDetInputs adds nothing else used here)
    from detdatasets.transforms import PackDetInputs

    dataset.pipeline.transforms.append(PackDetInputs(meta_keys=("img_id", "scale_factor", "pad_param")))
    sample = dataset[1]["data_samples"]
    assert sample.pad_param.tolist() == [12, 12, 8, 8]  # 40 x 80 in a 64 x 96 batch shape
    assert sample.scale_factor == (1.0, 1.0)


def test_yolov5_coco_dataset_hands_itself_to_the_training_pipeline(tmp_path):
    seen = []
    dataset = YOLOv5CocoDataset(**_coco(tmp_path, [(32, 32), (40, 20)]),
                                pipeline=[lambda r: seen.append(r.get("dataset")) or r])
    dataset[1]
    assert seen == [dataset]
    assert "batch_shape" not in dataset.get_data_info(0)
    with pytest.raises(TypeError, match="batch_shapes_cfg must be a config dict or None"):
        YOLOv5CocoDataset(ann_file="unused.json", batch_shapes_cfg="yes")


def test_mosaic_pipeline_through_the_dataset_end_to_end(tmp_path):
    sizes = [(40, 60), (50, 50), (30, 70), (60, 40)]
    from detdatasets.transforms import LoadImageFromFile, PackDetInputs

    pre = [LoadImageFromFile(), YOLOLoadAnnotations()]
    dataset = YOLOv5CocoDataset(**_coco(tmp_path, sizes), pipeline=[
        *pre, YOLOMosaic(img_scale=(64, 64), pre_transform=pre),
        YOLOv5RandomAffine(border=(-32, -32), max_rotate_degree=0, max_shear_degree=0),
        YOLOv5HSVRandomAug(), PackDetInputs()])
    np.random.seed(0)
    packed = dataset[0]
    assert packed["inputs"].shape == (3, 64, 64) and packed["inputs"].dtype == torch.uint8
    instances = packed["data_samples"].gt_instances
    assert len(instances.bboxes) == len(instances.labels) > 0
    assert bool((instances.bboxes.tensor >= 0).all() and (instances.bboxes.tensor <= 64).all())
