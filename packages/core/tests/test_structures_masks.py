"""Tests of detcore.structures.mask against torchvision, pycocotools and hand-computed masks.

Conventions checked here: coordinates are continuous pixels (pixel column j spans
x in [j, j + 1)); bitmap boxes have exclusive x2/y2, i.e. torchvision's masks_to_boxes
(inclusive) + [0, 0, 1, 1]; positive rotation angles turn clockwise on screen (mmcv).
"""

import cv2
import numpy as np
import pycocotools.mask as coco_mask
import pytest
import torch
from torchvision.ops import masks_to_boxes, roi_align

from detcore.structures.mask import (
    BitmapMasks,
    PolygonMasks,
    bitmap_to_polygon,
    encode_mask_results,
    mask2bbox,
    polygon_to_bitmap,
)

H, W = 48, 64


def square(x1, y1, x2, y2, dtype=np.float64):
    """Flat polygon of an axis-aligned rectangle."""
    return np.array([x1, y1, x2, y1, x2, y2, x1, y2], dtype=dtype)


def bitmap(height, width, *rects):
    """(N, H, W) uint8 masks, one filled [x1, x2) x [y1, y2) rectangle per mask."""
    masks = np.zeros((len(rects), height, width), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        masks[i, y1:y2, x1:x2] = 1
    return masks


def iou(a, b):
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


def outline_band(mask):
    """Pixels within one pixel (3x3 neighbourhood) of the mask's outline."""
    mask = mask.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    return cv2.dilate(mask, kernel).astype(bool) & ~cv2.erode(mask, kernel).astype(bool)


@pytest.fixture
def polygons():
    """Three instances: a concave L, a triangle, and a square with a second part."""
    l_shape = np.array([8, 6, 30, 6, 30, 14, 18, 14, 18, 36, 8, 36], dtype=np.float64)
    triangle = np.array([36, 8, 58, 20, 40, 40], dtype=np.float64)
    return PolygonMasks(
        [[l_shape], [triangle], [square(20, 30, 34, 44), square(44, 36, 60, 46)]], H, W
    )


# --- boxes -------------------------------------------------------------------------------


def test_mask2bbox_is_torchvision_masks_to_boxes_plus_one_on_x2_y2():
    masks = torch.from_numpy(BitmapMasks.random(5, 20, 30, rng=1).masks > 0)
    masks[1] = False
    masks[2] = False
    masks[2, 7, 11] = True  # a single pixel: box 11..12 x 7..8
    expected = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])
    expected[1] = 0  # empty mask
    boxes = mask2bbox(masks)
    assert boxes.dtype == torch.float32
    torch.testing.assert_close(boxes, expected)
    torch.testing.assert_close(boxes[2], torch.tensor([11.0, 7.0, 12.0, 8.0]))


def test_bitmap_get_bboxes_matches_torchvision_with_exclusive_corner():
    masks = BitmapMasks(bitmap(H, W, (3, 4, 10, 20), (0, 0, W, H), (63, 47, 64, 48)), H, W)
    reference = masks_to_boxes(torch.from_numpy(masks.masks).bool()) + torch.tensor([0, 0, 1, 1])
    torch.testing.assert_close(masks.get_bboxes(), reference)
    torch.testing.assert_close(masks.get_bboxes("hbb"), reference)


def test_polygon_get_bboxes_are_vertex_bounds(polygons):
    expected = torch.tensor(
        [[8, 6, 30, 36], [36, 8, 58, 40], [20, 30, 60, 46]], dtype=torch.float32
    )
    torch.testing.assert_close(polygons.get_bboxes(), expected)


def test_get_bboxes_rejects_other_box_types():
    with pytest.raises(ValueError, match=r"dst_type in \('hbox', 'hbb'\), but got 'rbox'"):
        BitmapMasks.random(1).get_bboxes("rbox")


# --- areas, RLE, conversions -------------------------------------------------------------


def test_bitmap_areas_match_pycocotools_area():
    masks = BitmapMasks.random(4, 24, 40, rng=0)
    rles = coco_mask.encode(np.asfortranarray(masks.masks.transpose(1, 2, 0)))
    np.testing.assert_array_equal(masks.areas, coco_mask.area(rles))


def test_polygon_areas_by_shoelace_hand_computed(polygons):
    # L: 22*8 + 10*22 = 396; triangle: |(22*32 - 12*4)| / 2 = 328; squares 196 + 160.
    np.testing.assert_allclose(polygons.areas, [396.0, 328.0, 356.0])


def test_polygon_to_bitmap_matches_pycocotools_rasterisation(polygons):
    for parts in polygons.masks:
        reference = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(parts, H, W)))
        np.testing.assert_array_equal(polygon_to_bitmap(parts, H, W), reference.astype(bool))


def test_polygon_to_bitmap_covers_integer_square_exactly():
    """Hand-computed: the square [2, 6] x [1, 4] covers columns 2..5 and rows 1..3."""
    expected = bitmap(8, 8, (2, 1, 6, 4))[0].astype(bool)
    np.testing.assert_array_equal(polygon_to_bitmap([square(2, 1, 6, 4)], 8, 8), expected)


def test_polygon_to_bitmap_rejects_short_polygon():
    with pytest.raises(ValueError, match="polygon 0 has 4 coordinates; a polygon needs an even"):
        polygon_to_bitmap([np.array([0, 0, 1, 1.0])], 8, 8)


def test_encode_mask_results_round_trips_through_pycocotools_decode():
    masks = BitmapMasks.random(3, 20, 30, rng=2).masks
    rles = encode_mask_results(masks)
    assert len(rles) == 3 and rles[0]["size"] == [20, 30]
    np.testing.assert_array_equal(coco_mask.decode(rles).transpose(2, 0, 1), masks)
    # One pycocotools.encode per (H, W) mask gives the same strings.
    for mask, rle in zip(masks, rles):
        assert coco_mask.encode(np.asfortranarray(mask))["counts"] == rle["counts"]
    from_list = encode_mask_results([torch.from_numpy(m).bool() for m in masks])
    assert [r["counts"] for r in from_list] == [r["counts"] for r in rles]
    assert encode_mask_results(np.zeros((0, 5, 5))) == []


def test_bitmap_to_polygon_traces_square_and_reports_hole():
    ring = np.zeros((10, 10), np.uint8)
    ring[2:8, 2:8] = 1
    contours, with_hole = bitmap_to_polygon(ring)
    assert not with_hole and len(contours) == 1
    # The outline runs through the border pixel centres: corners (2, 2) and (7, 7).
    np.testing.assert_array_equal(contours[0].min(0), [2, 2])
    np.testing.assert_array_equal(contours[0].max(0), [7, 7])
    assert len(contours[0]) == 20  # 4 sides of 6 pixels, corners counted once
    ring[4:6, 4:6] = 0
    contours, with_hole = bitmap_to_polygon(ring)
    assert with_hole and len(contours) == 2
    assert bitmap_to_polygon(np.zeros((4, 4))) == ([], False)


def test_polygon_to_bitmap_conversion_keeps_instances(polygons):
    bitmaps = polygons.to_bitmap()
    assert isinstance(bitmaps, BitmapMasks)
    assert bitmaps.masks.shape == (3, H, W) and bitmaps.masks.dtype == np.uint8
    # An axis-aligned polygon rasterises to exactly its area.
    assert bitmaps.areas[2] == 356
    np.testing.assert_array_equal(polygons.to_ndarray(), bitmaps.masks)


# --- hand-computed geometric operations -------------------------------------------------


def test_bitmap_flip_hand_computed():
    masks = BitmapMasks(bitmap(4, 6, (0, 0, 2, 1)), 4, 6)  # top-left 2x1 block
    np.testing.assert_array_equal(masks.flip("horizontal").masks, bitmap(4, 6, (4, 0, 6, 1)))
    np.testing.assert_array_equal(masks.flip("vertical").masks, bitmap(4, 6, (0, 3, 2, 4)))
    np.testing.assert_array_equal(masks.flip("diagonal").masks, bitmap(4, 6, (4, 3, 6, 4)))


def test_polygon_flip_hand_computed():
    masks = PolygonMasks([[square(1, 2, 3, 5)]], 10, 20)
    np.testing.assert_array_equal(masks.flip("horizontal").masks[0][0], square(19, 2, 17, 5))
    np.testing.assert_array_equal(masks.flip("vertical").masks[0][0], square(1, 8, 3, 5))
    np.testing.assert_array_equal(masks.flip("diagonal").masks[0][0], square(19, 8, 17, 5))


def test_pad_hand_computed():
    masks = BitmapMasks(bitmap(2, 3, (1, 0, 3, 2)), 2, 3).pad((4, 5), pad_val=7)
    expected = np.full((1, 4, 5), 7, np.uint8)
    expected[0, :2, :3] = [[0, 1, 1], [0, 1, 1]]
    np.testing.assert_array_equal(masks.masks, expected)
    polygons = PolygonMasks([[square(0, 0, 2, 2)]], 2, 3).pad((4, 5))
    assert (polygons.height, polygons.width) == (4, 5)
    np.testing.assert_array_equal(polygons.masks[0][0], square(0, 0, 2, 2))


def test_crop_hand_computed():
    masks = BitmapMasks(bitmap(6, 8, (2, 1, 5, 4)), 6, 8)
    cropped = masks.crop(np.array([3, 2, 7, 6]))
    assert (cropped.height, cropped.width) == (4, 4)
    np.testing.assert_array_equal(cropped.masks, bitmap(4, 4, (0, 0, 2, 2)))
    # Boxes beyond the image are clipped to it.
    assert masks.crop(np.array([-5, -5, 100, 100])).masks.shape == (1, 6, 8)


def test_polygon_crop_clips_to_window_hand_computed():
    polygons = PolygonMasks([[square(2, 1, 5, 4)], [square(0, 0, 1, 1)]], 6, 8)
    cropped = polygons.crop(np.array([3, 2, 7, 6]))
    # Square x 2..5, y 1..4 clipped to x 3..7, y 2..6 is x 3..5, y 2..4 -> shifted by (3, 2).
    vertices = cropped.masks[0][0].reshape(-1, 2)
    assert {tuple(v) for v in vertices} == {(0, 0), (2, 0), (2, 2), (0, 2)}
    # An instance left outside keeps a zero placeholder polygon (MMDetection's rule).
    np.testing.assert_array_equal(cropped.masks[1], [np.zeros(6)])
    np.testing.assert_array_equal(cropped.to_ndarray(), bitmap(4, 4, (0, 0, 2, 2), (0, 0, 0, 0)))


def test_polygon_crop_of_concave_shape_matches_bitmap_crop(polygons):
    """The L split in two by the window still rasterises like the cropped bitmap."""
    window = np.array([10, 8, 26, 40])
    cropped = polygons.crop(window)
    expected = polygons.to_bitmap().crop(window).masks
    np.testing.assert_array_equal(cropped.to_ndarray(), expected)


def test_expand_hand_computed():
    masks = BitmapMasks(bitmap(2, 2, (0, 0, 1, 1)), 2, 2).expand(4, 5, top=1, left=3)
    np.testing.assert_array_equal(masks.masks, bitmap(4, 5, (3, 1, 4, 2)))
    polygons = PolygonMasks([[square(0, 0, 1, 1)]], 2, 2).expand(4, 5, top=1, left=3)
    np.testing.assert_array_equal(polygons.masks[0][0], square(3, 1, 4, 2))
    with pytest.raises(ValueError, match=r"masks of \(2, 2\) at top=3, left=0 do not fit in"):
        BitmapMasks.random(1, 2, 2).expand(4, 5, top=3, left=0)


def test_translate_hand_computed():
    masks = BitmapMasks(bitmap(5, 6, (0, 0, 2, 2)), 5, 6)
    np.testing.assert_array_equal(
        masks.translate((5, 6), 3, "horizontal").masks, bitmap(5, 6, (3, 0, 5, 2))
    )
    np.testing.assert_array_equal(
        masks.translate((5, 6), 2, "vertical").masks, bitmap(5, 6, (0, 2, 2, 4))
    )
    # MMDetection's documented example: a translated polygon shifts x by the offset.
    polygon = np.array([0, 0, 10, 0, 10, 10.0, 0, 10, 0, 0])
    moved = PolygonMasks([[polygon]], 16, 16).translate((16, 16), 4.0, direction="horizontal")
    np.testing.assert_array_equal(moved.masks[0][0][1::2], polygon[1::2])
    np.testing.assert_array_equal(moved.masks[0][0][0::2], polygon[0::2] + 4)


def test_shear_and_rotate_hand_computed():
    pixel = BitmapMasks(bitmap(5, 5, (1, 2, 2, 3)), 5, 5)  # pixel at x=1, y=2
    sheared = pixel.shear((5, 5), 1.0, "horizontal", interpolation="nearest")
    np.testing.assert_array_equal(sheared.masks, bitmap(5, 5, (3, 2, 4, 3)))  # x + y = 3
    corner = BitmapMasks(bitmap(5, 5, (4, 0, 5, 1)), 5, 5)  # top-right pixel
    rotated = corner.rotate((5, 5), 90, interpolation="nearest")
    np.testing.assert_array_equal(rotated.masks, bitmap(5, 5, (4, 4, 5, 5)))  # bottom-right
    point = PolygonMasks([[np.array([4.0, 0, 4, 0, 4, 0])]], 5, 5)
    turned = point.rotate((5, 5), 90, center=(2.0, 2.0)).masks[0][0]
    np.testing.assert_allclose(turned, [4, 4] * 3, atol=1e-12)


def test_rescale_follows_mmcv_size_rule():
    masks = BitmapMasks.random(2, 20, 30, rng=0)
    assert masks.rescale(0.5).masks.shape == (2, 10, 15)
    assert masks.rescale(0.75).masks.shape == (2, 15, 23)  # 22.5 rounds half up
    # (1333, 800): factor min(1333 / 30, 800 / 20) = 40.
    assert masks.rescale((1333, 800)).masks.shape == (2, 800, 1200)
    polygons = PolygonMasks([[square(3, 4, 9, 10)]], 20, 30).rescale(0.5)
    assert (polygons.height, polygons.width) == (10, 15)
    np.testing.assert_allclose(polygons.masks[0][0], square(1.5, 2, 4.5, 5))


def test_resize_nearest_hand_computed():
    masks = BitmapMasks(bitmap(2, 2, (1, 0, 2, 1)), 2, 2).resize((4, 4))
    np.testing.assert_array_equal(masks.masks, bitmap(4, 4, (2, 0, 4, 2)))


# --- polygon / bitmap consistency after each operation ----------------------------------

OPERATIONS = {
    "flip_horizontal": lambda m: m.flip("horizontal"),
    "flip_vertical": lambda m: m.flip("vertical"),
    "flip_diagonal": lambda m: m.flip("diagonal"),
    "resize": lambda m: m.resize((60, 80)),
    "resize_down": lambda m: m.resize((36, 48), interpolation="bilinear"),
    "rescale": lambda m: m.rescale(1.25),
    "pad": lambda m: m.pad((56, 70)),
    "crop": lambda m: m.crop(np.array([12, 10, 50, 44])),
    "expand": lambda m: m.expand(60, 80, 5, 9),
    "translate_h": lambda m: m.translate((H, W), 7, "horizontal"),
    "translate_v": lambda m: m.translate((H, W), -5, "vertical"),
    "shear": lambda m: m.shear((H, W), 0.2, "horizontal"),
    "shear_v": lambda m: m.shear((H, W), -0.15, "vertical"),
    "rotate": lambda m: m.rotate((H, W), 20),
    "crop_and_resize": lambda m: m.crop_and_resize(
        np.array([[6.0, 4, 32, 38], [30, 5, 60, 42], [18, 28, 62, 47]]),
        (28, 28),
        np.array([0, 1, 2]),
    ),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_polygon_and_bitmap_agree_after(name, polygons):
    """PolygonMasks.op().to_ndarray() vs BitmapMasks.op(): high IoU, differences only on the outline.

    The two rasterise edges differently (pycocotools vs resampling), so boundary pixels
    may disagree; no pixel further than one pixel from the outline may.
    """
    operation = OPERATIONS[name]
    from_polygons = operation(polygons)
    from_bitmaps = operation(polygons.to_bitmap())
    assert (from_polygons.height, from_polygons.width) == (from_bitmaps.height, from_bitmaps.width)
    for a, b in zip(from_polygons.to_ndarray(), from_bitmaps.masks):
        assert iou(a, b) > 0.85, name
        assert not ((a != b) & ~outline_band(a)).any(), name


def test_flips_and_shifts_agree_pixel_for_pixel(polygons):
    """Whole-pixel moves of axis-aligned polygons give identical rasters.

    (pycocotools rasterises slanted edges asymmetrically, so the triangle is left out.)
    """
    polygons = polygons[[0, 2]]
    bitmaps = polygons.to_bitmap()
    for name in ("flip_horizontal", "flip_vertical", "flip_diagonal", "pad", "expand", "crop"):
        np.testing.assert_array_equal(
            OPERATIONS[name](polygons).to_ndarray(), OPERATIONS[name](bitmaps).masks, err_msg=name
        )


# --- crop_and_resize ---------------------------------------------------------------------


def test_bitmap_crop_and_resize_equals_torchvision_roi_align():
    masks = BitmapMasks.random(3, 32, 40, rng=3)
    boxes = torch.tensor([[0.0, 0, 40, 32], [3.5, 2.25, 20, 30], [10, 5, 11, 6], [7, 1, 33, 17]])
    inds = np.array([0, 2, 1, 2])
    reference = roi_align(
        torch.from_numpy(masks.masks[inds]).float()[:, None],
        torch.cat([torch.arange(4.0)[:, None], boxes], 1),
        (14, 14),
        spatial_scale=1.0,
        sampling_ratio=0,
        aligned=True,
    )[:, 0].numpy()
    soft = masks.crop_and_resize(boxes, (14, 14), inds, binarize=False)
    np.testing.assert_allclose(soft.masks, reference, rtol=0, atol=1e-6)
    hard = masks.crop_and_resize(boxes.numpy(), (14, 14), torch.from_numpy(inds))
    assert hard.masks.dtype == np.uint8
    np.testing.assert_array_equal(hard.masks, (reference >= 0.5).astype(np.uint8))


def test_polygon_crop_and_resize_hand_computed():
    polygons = PolygonMasks([[square(4, 4, 8, 12)]], 16, 16)
    out = polygons.crop_and_resize(np.array([[4.0, 4, 12, 12]]), (16, 16), np.array([0]))
    # Box 8x8 -> 16x16 doubles the size; the square fills the left half.
    np.testing.assert_allclose(out.masks[0][0], square(0, 0, 8, 16))
    with pytest.raises(ValueError, match="binarize=False is not supported"):
        polygons.crop_and_resize(np.array([[0.0, 0, 4, 4]]), (4, 4), [0], binarize=False)


def test_crop_and_resize_needs_one_index_per_box():
    with pytest.raises(ValueError, match="got 2 bboxes but 1 inds"):
        BitmapMasks.random(2).crop_and_resize(np.zeros((2, 4)), (7, 7), np.array([0]))


# --- empty masks --------------------------------------------------------------------------

EMPTY_CALLS = {
    "rescale": (lambda m: m.rescale(0.5), (0, 10, 15)),
    "resize": (lambda m: m.resize((7, 9)), (0, 7, 9)),
    "flip": (lambda m: m.flip("diagonal"), (0, 20, 30)),
    "pad": (lambda m: m.pad((25, 33)), (0, 25, 33)),
    "crop": (lambda m: m.crop(np.array([2, 3, 12, 9])), (0, 6, 10)),
    "crop_and_resize": (
        lambda m: m.crop_and_resize(np.array([[0.0, 0, 5, 5]]), (7, 7), np.array([0])),
        (0, 7, 7),
    ),
    "expand": (lambda m: m.expand(30, 40, 2, 3), (0, 30, 40)),
    "translate": (lambda m: m.translate((20, 30), 4), (0, 20, 30)),
    "shear": (lambda m: m.shear((20, 30), 0.3), (0, 20, 30)),
    "rotate": (lambda m: m.rotate((20, 30), 30), (0, 20, 30)),
    "index": (lambda m: m[[]], (0, 20, 30)),
    "cat": (lambda m: type(m).cat([m, m]), (0, 20, 30)),
}


@pytest.mark.parametrize("cls", [BitmapMasks, PolygonMasks])
@pytest.mark.parametrize("name", sorted(EMPTY_CALLS))
def test_empty_masks_keep_shapes_through(name, cls):
    masks = cls([], 20, 30)
    call, shape = EMPTY_CALLS[name]
    result = call(masks)
    assert type(result) is cls and len(result) == 0
    assert (result.height, result.width) == shape[1:]
    assert result.to_ndarray().shape == shape


@pytest.mark.parametrize("cls", [BitmapMasks, PolygonMasks])
def test_empty_masks_summaries(cls):
    masks = cls([], 20, 30)
    assert masks.areas.shape == (0,)
    assert masks.get_bboxes().shape == (0, 4)
    assert masks.to_tensor(torch.float32, "cpu").shape == (0, 20, 30)
    assert list(masks) == []


def test_mask2bbox_of_no_masks():
    assert mask2bbox(torch.zeros(0, 5, 5)).shape == (0, 4)


# --- indexing, containers, errors --------------------------------------------------------


@pytest.mark.parametrize("cls", [BitmapMasks, PolygonMasks])
def test_indexing_forms_select_the_same_instances(cls, polygons):
    masks = polygons if cls is PolygonMasks else polygons.to_bitmap()
    reference = polygons.to_ndarray()
    cases = [
        (1, [1]),
        (-1, [2]),
        (np.int64(0), [0]),
        (slice(1, None), [1, 2]),
        ([2, 0], [2, 0]),
        (np.array([True, False, True]), [0, 2]),
        (torch.tensor([2, 1]), [2, 1]),
        (torch.tensor([False, True, False]), [1]),
        ([True, True, False], [0, 1]),
    ]
    for index, expected in cases:
        selected = masks[index]
        assert type(selected) is cls and (selected.height, selected.width) == (H, W)
        np.testing.assert_array_equal(
            selected.to_ndarray(), reference[expected], err_msg=str(index)
        )


@pytest.mark.parametrize("cls", [BitmapMasks, PolygonMasks])
def test_index_errors_name_the_problem(cls):
    masks = cls.random(3, 16, 16, rng=0)
    name = cls.__name__
    with pytest.raises(IndexError, match=f"{name} index 3 is out of range for 3 masks"):
        masks[3]
    with pytest.raises(IndexError, match=f"{name} index -4 is out of range for 3 masks"):
        masks[[0, -4]]
    with pytest.raises(IndexError, match=rf"{name}: bool index has shape \(2,\), but there are 3"):
        masks[np.array([True, False])]
    with pytest.raises(TypeError, match=f"{name} indices must be an int, slice, list of ints"):
        masks[1.5]
    with pytest.raises(TypeError, match=f"{name} cannot be indexed by a single bool"):
        masks[True]


def test_len_iter_repr_and_containers(polygons):
    bitmaps = polygons.to_bitmap()
    assert len(polygons) == len(bitmaps) == 3
    assert [m.shape for m in bitmaps] == [(H, W)] * 3
    assert [len(parts) for parts in polygons] == [1, 1, 2]
    assert repr(bitmaps) == f"BitmapMasks(num_masks=3, height={H}, width={W})"
    tensor = bitmaps.to_tensor(torch.bool, "cpu")
    assert tensor.dtype == torch.bool and tensor.shape == (3, H, W)
    torch.testing.assert_close(
        polygons.to_tensor(torch.uint8, "cpu"), torch.from_numpy(bitmaps.masks)
    )


@pytest.mark.parametrize("cls", [BitmapMasks, PolygonMasks])
def test_cat_joins_in_order_and_checks_inputs(cls):
    a, b = cls.random(2, 16, 20, rng=0), cls.random(3, 16, 20, rng=1)
    joined = cls.cat([a, b])
    assert len(joined) == 5
    np.testing.assert_array_equal(joined.to_ndarray()[2:], b.to_ndarray())
    with pytest.raises(ValueError, match=f"{cls.__name__}.cat needs at least one"):
        cls.cat([])
    with pytest.raises(ValueError, match=r"one \(height, width\), got \[\(16, 20\), \(16, 21\)\]"):
        cls.cat([a, cls.random(1, 16, 21)])
    other = PolygonMasks if cls is BitmapMasks else BitmapMasks
    with pytest.raises(TypeError, match=f"item 1 is a {other.__name__}, not a {cls.__name__}"):
        cls.cat([a, other.random(1, 16, 20)])


def test_random_masks_are_reproducible_and_inside_the_canvas():
    a = PolygonMasks.random(6, 30, 40, n_verts=7, rng=5)
    b = PolygonMasks.random(6, 30, 40, n_verts=7, rng=5)
    np.testing.assert_array_equal(
        np.concatenate([p[0] for p in a]), np.concatenate([p[0] for p in b])
    )
    boxes = a.get_bboxes()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 40).all() and (boxes[:, 3] <= 30).all()
    assert all(len(parts[0]) == 14 and parts[0].dtype == np.float32 for parts in a)
    bitmaps = BitmapMasks.random(2, 8, 9, rng=5)
    assert bitmaps.masks.shape == (2, 8, 9) and set(np.unique(bitmaps.masks)) <= {0, 1}


def test_constructor_errors_name_the_argument():
    with pytest.raises(
        ValueError, match=r"masks must have shape \(N, 4, 5\) .* but got \(2, 4, 6\)"
    ):
        BitmapMasks(np.zeros((2, 4, 6)), 4, 5)
    with pytest.raises(ValueError, match=r"shape \(N, 4, 5\) .* but got \(2, 0, 5\)"):
        BitmapMasks(np.zeros((2, 0, 5)), 4, 5)
    with pytest.raises(ValueError, match=r"instance 0, polygon 1 has shape \(5,\)"):
        PolygonMasks([[square(0, 0, 1, 1), np.arange(5.0)]], 4, 4)
    with pytest.raises(TypeError, match="instance 1 must be a list of polygons, got ndarray"):
        PolygonMasks([[square(0, 0, 1, 1)], square(0, 0, 1, 1)], 4, 4)


def test_option_errors_name_the_options():
    masks = BitmapMasks.random(1, 8, 8)
    with pytest.raises(ValueError, match=r"interpolation must be one of \['area', 'bicubic'"):
        masks.resize((4, 4), interpolation="linear")
    with pytest.raises(ValueError, match="flip_direction must be one of"):
        masks.flip("sideways")
    with pytest.raises(ValueError, match="direction must be 'horizontal' or 'vertical'"):
        masks.translate((8, 8), 2, direction="diagonal")
    with pytest.raises(ValueError, match=r"pad: out_shape \(4, 8\) is smaller than the masks"):
        masks.pad((4, 8))
    with pytest.raises(ValueError, match="border_value must be None or 0"):
        PolygonMasks.random(1).translate((32, 32), 3, border_value=1)
    with pytest.raises(ValueError, match=r"crop bbox must have shape \(4,\)"):
        masks.crop(np.array([[0, 0, 4, 4]]))


def test_bitmap_dtypes_normalised():
    assert BitmapMasks(np.ones((1, 2, 2), bool), 2, 2).masks.dtype == np.uint8
    assert BitmapMasks(np.ones((1, 2, 2), np.int64), 2, 2).masks.dtype == np.uint8
    assert BitmapMasks(np.full((1, 2, 2), 0.5, np.float32), 2, 2).masks.dtype == np.float32
    with pytest.raises(ValueError, match=r"integer masks must hold values in 0..255, got 0..300"):
        BitmapMasks(np.array([[[0, 300]]]), 1, 2)


# --- parity with MMDetection 3.3.0 itself (skipped where mmdet is not installed) ----------

PARITY_OPERATIONS = {
    "rescale": lambda m: m.rescale((100, 60)),
    "resize": lambda m: m.resize((30, 70)),
    "flip": lambda m: m.flip("diagonal"),
    "pad": lambda m: m.pad((60, 70)),
    "crop": lambda m: m.crop(np.array([10, 8, 50, 40])),
    "crop_and_resize": lambda m: m.crop_and_resize(
        np.array([[3.0, 2, 40, 30], [10, 10, 50, 45.5], [0, 0, 64, 48]]),
        (28, 28),
        np.array([0, 2, 1]),
    ),
    "translate": lambda m: m.translate((H, W), -5, "vertical"),
    "shear": lambda m: m.shear((H, W), 0.3, "horizontal"),
    "rotate": lambda m: m.rotate((H, W), -75, center=(10.0, 5.0), scale=1.2),
    "index": lambda m: m[np.array([True, False, True])],
}


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(PARITY_OPERATIONS))
def test_operations_match_mmdetection(name, mmdet, polygons):
    """Same results as mmdet.structures.mask: bitmaps exactly, polygon rasters exactly."""
    from mmdet.structures import mask as reference

    operation = PARITY_OPERATIONS[name]
    polygon_lists = [[p.copy() for p in parts] for parts in polygons.masks]
    theirs = operation(reference.PolygonMasks(polygon_lists, H, W))
    np.testing.assert_array_equal(operation(polygons).to_ndarray(), theirs.to_ndarray())
    bitmaps = polygons.to_bitmap()
    if name in ("crop_and_resize", "index"):  # operations that pair masks with inputs
        expected = operation(reference.BitmapMasks(bitmaps.masks, H, W)).masks
    else:
        # mmdet warps all masks as channels of one cv2 call, which OpenCV 5 handles for few
        # channels only; one mask at a time is the reference that does not depend on that.
        one_by_one = [reference.BitmapMasks(bitmaps.masks[i : i + 1], H, W) for i in range(3)]
        expected = np.concatenate([operation(m).masks for m in one_by_one])
    np.testing.assert_array_equal(operation(bitmaps).masks, expected)


@pytest.mark.peer
def test_summaries_match_mmdetection(mmdet, polygons):
    from mmdet.structures import mask as reference

    theirs = reference.PolygonMasks([[p.copy() for p in parts] for parts in polygons.masks], H, W)
    np.testing.assert_allclose(polygons.areas, theirs.areas, rtol=1e-12)
    torch.testing.assert_close(polygons.get_bboxes(), theirs.get_bboxes("hbox").tensor)
    bitmaps = polygons.to_bitmap()
    their_bitmaps = reference.BitmapMasks(bitmaps.masks, H, W)
    np.testing.assert_array_equal(bitmaps.areas, their_bitmaps.areas)
    torch.testing.assert_close(bitmaps.get_bboxes(), their_bitmaps.get_bboxes("hbox").tensor)
    masks = torch.from_numpy(bitmaps.masks).bool()
    torch.testing.assert_close(mask2bbox(masks), reference.mask2bbox(masks))
    assert encode_mask_results(bitmaps.masks) == reference.encode_mask_results(bitmaps.masks)
