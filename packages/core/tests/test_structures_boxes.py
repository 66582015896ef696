"""HorizontalBoxes, the box-type registry and the plain-tensor box helpers.

References: torchvision (box_convert, box_iou, masks_to_boxes), OpenCV
(getRotationMatrix2D), explicit numpy homography math, hand-computed coordinates and
(peer) MMDetection 3.3.0's own HorizontalBoxes and helpers.
"""

import copy

import cv2
import numpy as np
import pytest
import torch
import torchvision.ops as tv_ops

from detcore.structures.bbox import (
    BaseBoxes,
    HorizontalBoxes,
    autocast_box_type,
    bbox2distance,
    bbox2roi,
    bbox_cxcywh_to_xyxy,
    bbox_flip,
    bbox_mapping,
    bbox_mapping_back,
    bbox_rescale,
    bbox_xywh_to_xyxy,
    bbox_xyxy_to_cxcywh,
    bbox_xyxy_to_xywh,
    box_converters,
    box_types,
    cat_boxes,
    convert_box_type,
    distance2bbox,
    empty_box_as,
    get_box_tensor,
    get_box_type,
    get_box_wh,
    register_box_type,
    register_box_type_converter,
    roi2bbox,
    scale_boxes,
    stack_boxes,
)
from detcore.structures.bbox import box_type as box_type_module

XYXY = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 4.0, 2.0], [5.0, 5.0, 5.0, 9.0]])


def random_xyxy(n, *batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(*batch, n, 2, generator=g) * 50
    return torch.cat([xy, xy + 1 + torch.rand(*batch, n, 2, generator=g) * 40], dim=-1)


# ---------------------------------------------------------------- construction and formats
def test_construct_from_tensor_ndarray_and_list_round_trips():
    for data in (XYXY, XYXY.numpy(), XYXY.tolist()):
        boxes = HorizontalBoxes(data)
        torch.testing.assert_close(boxes.tensor, XYXY)
        np.testing.assert_array_equal(boxes.numpy(), XYXY.numpy())
    assert HorizontalBoxes(XYXY.double()).dtype == torch.float64


def test_clone_flag_controls_memory_sharing():
    data = XYXY.clone()
    assert HorizontalBoxes(data, clone=False).tensor.data_ptr() == data.data_ptr()
    assert HorizontalBoxes(data).tensor.data_ptr() != data.data_ptr()


def test_integer_input_becomes_float32_unless_dtype_given():
    assert HorizontalBoxes([[1, 2, 3, 4]]).dtype == torch.float32
    assert HorizontalBoxes([[1, 2, 3, 4]], dtype=torch.int64).dtype == torch.int64


@pytest.mark.parametrize("in_mode", ["xywh", "cxcywh"])
def test_in_mode_matches_torchvision_box_convert(in_mode):
    data = tv_ops.box_convert(XYXY, "xyxy", in_mode)
    torch.testing.assert_close(HorizontalBoxes(data, in_mode=in_mode).tensor, XYXY)


def test_xywh_and_cxcywh_views_match_torchvision_box_convert():
    boxes = HorizontalBoxes(random_xyxy(6))
    torch.testing.assert_close(boxes.xywh, tv_ops.box_convert(boxes.tensor, "xyxy", "xywh"))
    torch.testing.assert_close(boxes.cxcywh, tv_ops.box_convert(boxes.tensor, "xyxy", "cxcywh"))


def test_plain_converters_match_torchvision_box_convert():
    boxes = random_xyxy(5, 2)
    flat = boxes.reshape(-1, 4)
    for to_fmt, forward, backward in (
        ("cxcywh", bbox_xyxy_to_cxcywh, bbox_cxcywh_to_xyxy),
        ("xywh", bbox_xyxy_to_xywh, bbox_xywh_to_xyxy),
    ):
        converted = forward(boxes)
        torch.testing.assert_close(
            converted.reshape(-1, 4), tv_ops.box_convert(flat, "xyxy", to_fmt)
        )
        torch.testing.assert_close(backward(converted), boxes)
    assert HorizontalBoxes.cxcywh_to_xyxy is bbox_cxcywh_to_xyxy


def test_empty_inputs_become_0x4_and_batch_empties_keep_shape():
    assert HorizontalBoxes([]).shape == (0, 4)
    assert HorizontalBoxes(np.zeros((0,))).shape == (0, 4)
    assert HorizontalBoxes(torch.zeros(2, 0, 4)).shape == (2, 0, 4)


def test_bad_construction_has_clear_errors():
    with pytest.raises(
        ValueError,
        match=r"HorizontalBoxes needs data of shape \(\.\.\., 4\), but got shape \(3, 5\)",
    ):
        HorizontalBoxes(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"but got shape \(4,\)"):
        HorizontalBoxes(torch.zeros(4))
    with pytest.raises(ValueError, match="in_mode must be one of .* but got 'xyhw'"):
        HorizontalBoxes(XYXY, in_mode="xyhw")
    with pytest.raises(TypeError, match="data must be a Tensor, ndarray or sequence, but got int"):
        HorizontalBoxes(3)


# ---------------------------------------------------------------- indexing and tensor-like API
def test_getitem_int_slice_bool_long_and_ndarray():
    boxes = HorizontalBoxes(XYXY)
    assert isinstance(boxes[0], HorizontalBoxes) and boxes[0].shape == (1, 4)
    torch.testing.assert_close(boxes[-1].tensor, XYXY[2:])
    torch.testing.assert_close(boxes[1:].tensor, XYXY[1:])
    torch.testing.assert_close(boxes[torch.tensor([True, False, True])].tensor, XYXY[[0, 2]])
    torch.testing.assert_close(boxes[torch.tensor([2, 0])].tensor, XYXY[[2, 0]])
    torch.testing.assert_close(boxes[np.array([False, True, True])].tensor, XYXY[1:])
    assert len(boxes) == 3


def test_getitem_refuses_to_index_coordinates():
    boxes = HorizontalBoxes(XYXY)
    with pytest.raises(IndexError, match="at most 1 indices"):
        boxes[0, 1]
    with pytest.raises(
        IndexError, match="boolean index of HorizontalBoxes must have fewer than 2 dimensions"
    ):
        boxes[XYXY > 3]
    batched = HorizontalBoxes(random_xyxy(3, 2))
    assert batched[0, 1:].shape == (2, 4)
    with pytest.raises(IndexError, match="Ellipsis"):
        batched[..., 0]


def test_setitem_writes_boxes_and_checks_type():
    boxes = HorizontalBoxes(XYXY)
    boxes[torch.tensor([0, 2])] = HorizontalBoxes(torch.ones(2, 4))
    torch.testing.assert_close(boxes.tensor[[0, 2]], torch.ones(2, 4))
    torch.testing.assert_close(boxes.tensor[1], XYXY[1])
    with pytest.raises(TypeError, match="must be HorizontalBoxes, but got Tensor"):
        boxes[0] = torch.zeros(1, 4)


def test_cat_stack_split_chunk_and_copies():
    a, b = HorizontalBoxes(XYXY), HorizontalBoxes(XYXY[:1] + 1)
    torch.testing.assert_close(HorizontalBoxes.cat([a, b]).tensor, torch.cat([XYXY, XYXY[:1] + 1]))
    assert HorizontalBoxes.stack([a, a], dim=1).shape == (3, 2, 4)
    parts = a.split([1, 2])
    assert [p.shape for p in parts] == [(1, 4), (2, 4)] and all(
        isinstance(p, HorizontalBoxes) for p in parts
    )
    assert [len(c) for c in a.chunk(2)] == [2, 1]
    with pytest.raises(ValueError, match="last dimension holds the 4 coordinates"):
        a.split(2, dim=-1)
    with pytest.raises(ValueError, match="needs a non-empty list"):
        HorizontalBoxes.cat([])
    with pytest.raises(TypeError, match="element 1 is a Tensor, not a HorizontalBoxes"):
        HorizontalBoxes.cat([a, XYXY])
    cloned = a.clone()
    cloned.tensor[0, 0] = -1
    assert a.tensor[0, 0] == 10
    deep = copy.deepcopy(a)
    assert deep.tensor.data_ptr() != a.tensor.data_ptr() and torch.equal(deep.tensor, a.tensor)


def test_device_dtype_and_factory_methods():
    boxes = HorizontalBoxes(XYXY.clone().requires_grad_(True))
    assert not boxes.detach().tensor.requires_grad
    assert boxes.to(torch.float64).dtype == torch.float64
    assert boxes.cpu().device.type == "cpu"
    new = boxes.new_tensor([1, 2])
    assert new.dtype == torch.float32 and new.tolist() == [1.0, 2.0]
    empty = boxes.empty_boxes()
    assert isinstance(empty, HorizontalBoxes) and empty.shape == (0, 4)
    fake = boxes.fake_boxes((2, 4), fill=7)
    assert isinstance(fake, HorizontalBoxes) and fake.tensor.eq(7).all()
    assert (
        boxes.size() == (3, 4) and boxes.size(0) == 3 and boxes.dim() == 2 and boxes.numel() == 12
    )
    assert boxes.view(1, 3, 4).shape == (1, 3, 4) and boxes.flatten().shape == (3, 4)
    assert boxes.unsqueeze(0).shape == (1, 3, 4) and boxes.unsqueeze(0).squeeze(0).shape == (3, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_round_trip():
    boxes = HorizontalBoxes(XYXY).cuda()
    assert boxes.device.type == "cuda"
    torch.testing.assert_close(boxes.cpu().tensor, XYXY)


# ---------------------------------------------------------------- geometry
def test_centers_areas_widths_heights_hand_computed():
    boxes = HorizontalBoxes(XYXY)
    torch.testing.assert_close(boxes.centers, torch.tensor([[20.0, 40.0], [2.0, 1.0], [5.0, 7.0]]))
    torch.testing.assert_close(boxes.widths, torch.tensor([20.0, 4.0, 0.0]))
    torch.testing.assert_close(boxes.heights, torch.tensor([40.0, 2.0, 4.0]))
    torch.testing.assert_close(boxes.areas, torch.tensor([800.0, 8.0, 0.0]))
    widths, heights = get_box_wh(XYXY)
    torch.testing.assert_close(widths, boxes.widths)
    torch.testing.assert_close(heights, boxes.heights)


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        # image (h, w) = (100, 200): x -> 200 - x, y -> 100 - y, corners swapped
        ("horizontal", [[170.0, 20.0, 190.0, 60.0], [196.0, 0.0, 200.0, 2.0]]),
        ("vertical", [[10.0, 40.0, 30.0, 80.0], [0.0, 98.0, 4.0, 100.0]]),
        ("diagonal", [[170.0, 40.0, 190.0, 80.0], [196.0, 98.0, 200.0, 100.0]]),
    ],
)
def test_flip_every_direction_hand_flipped(direction, expected):
    boxes = HorizontalBoxes(XYXY[:2])
    boxes.flip_((100, 200), direction)
    torch.testing.assert_close(boxes.tensor, torch.tensor(expected))
    torch.testing.assert_close(
        bbox_flip(XYXY[:2], (100, 200, 3), direction), torch.tensor(expected)
    )
    boxes.flip_((100, 200), direction)  # a flip is its own inverse
    torch.testing.assert_close(boxes.tensor, XYXY[:2])


def test_bbox_flip_handles_4k_columns_and_rejects_bad_direction():
    two_per_row = torch.cat([XYXY[:2], XYXY[:2]], dim=1)  # (2, 8)
    flipped = bbox_flip(two_per_row, (100, 200), "horizontal")
    torch.testing.assert_close(flipped[:, 4:], flipped[:, :4])
    torch.testing.assert_close(flipped[0, :4], torch.tensor([170.0, 20.0, 190.0, 60.0]))
    with pytest.raises(ValueError, match="flip direction must be one of .* but got 'up'"):
        bbox_flip(XYXY, (100, 200), "up")


def test_translate_clip_rescale_resize_hand_computed():
    boxes = HorizontalBoxes([[10.0, 20.0, 30.0, 60.0]])
    boxes.translate_((5, -30))
    torch.testing.assert_close(boxes.tensor, torch.tensor([[15.0, -10.0, 35.0, 30.0]]))
    boxes.clip_((25, 32))  # (h, w)
    torch.testing.assert_close(boxes.tensor, torch.tensor([[15.0, 0.0, 32.0, 25.0]]))
    boxes = HorizontalBoxes([[10.0, 20.0, 30.0, 60.0]])
    boxes.rescale_((0.5, 2.0))
    torch.testing.assert_close(boxes.tensor, torch.tensor([[5.0, 40.0, 15.0, 120.0]]))
    boxes = HorizontalBoxes([[10.0, 20.0, 30.0, 60.0]])
    boxes.resize_((0.5, 2.0))  # centre (20, 40), size (20, 40) -> (10, 80)
    torch.testing.assert_close(boxes.tensor, torch.tensor([[15.0, 0.0, 25.0, 80.0]]))
    with pytest.raises(ValueError, match=r"distances must be \(dx, dy\)"):
        boxes.translate_((1, 2, 3))


@pytest.mark.parametrize("angle", [30.0, -45.0, 90.0])
def test_rotate_matches_opencv_rotation_of_corners(angle):
    """MMDetection rotates with cv2.getRotationMatrix2D(center, -angle, 1): positive = clockwise."""
    data = random_xyxy(5, seed=1)
    center = (40.0, 25.0)
    boxes = HorizontalBoxes(data)
    boxes.rotate_(center, angle)
    matrix = cv2.getRotationMatrix2D(center, -angle, 1.0)  # (2, 3)
    x1, y1, x2, y2 = data.double().numpy().T
    corners = np.stack(
        [
            np.stack([x1, y1], 1),
            np.stack([x2, y1], 1),
            np.stack([x1, y2], 1),
            np.stack([x2, y2], 1),
        ],
        1,
    )
    rotated = cv2.transform(corners.reshape(-1, 1, 2), matrix).reshape(-1, 4, 2)
    expected = np.concatenate([rotated.min(1), rotated.max(1)], axis=1)
    np.testing.assert_allclose(boxes.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_project_matches_explicit_numpy_homography():
    data = random_xyxy(6, seed=2)
    homography = np.array([[1.1, 0.2, 5.0], [-0.1, 0.9, -3.0], [1e-3, 2e-3, 1.0]])
    boxes = HorizontalBoxes(data)
    boxes.project_(homography)
    expected = []
    for x1, y1, x2, y2 in data.double().numpy():
        corners = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]])
        mapped = (homography @ corners.T).T
        mapped = mapped[:, :2] / mapped[:, 2:]
        expected.append([*mapped.min(0), *mapped.max(0)])
    np.testing.assert_allclose(boxes.numpy(), np.array(expected), rtol=1e-5, atol=1e-4)


def test_project_keeps_batch_dims_and_empties():
    batched = HorizontalBoxes(random_xyxy(3, 2))
    reference = batched.tensor.clone()
    batched.project_(torch.eye(3))
    torch.testing.assert_close(batched.tensor, reference)
    empty = HorizontalBoxes(torch.zeros(0, 4))
    empty.project_(np.eye(3))
    empty.rotate_((0, 0), 10)
    assert empty.shape == (0, 4)
    with pytest.raises(
        ValueError, match=r"homography_matrix must have shape \(3, 3\), but got \(2, 3\)"
    ):
        empty.project_(np.zeros((2, 3)))


def test_is_inside_both_modes_hand_computed():
    boxes = HorizontalBoxes(
        [
            [-5.0, 0.0, 5.0, 5.0],
            [2.0, 2.0, 8.0, 8.0],
            [12.0, 0.0, 20.0, 5.0],
            [0.0, 0.0, 10.0, 10.0],
        ]
    )
    img_shape = (10, 10)
    assert boxes.is_inside(img_shape).tolist() == [True, True, False, True]
    # all_inside uses x2 < w and y2 < h (anchor filtering); a border widens the image
    assert boxes.is_inside(img_shape, all_inside=True).tolist() == [False, True, False, False]
    assert boxes.is_inside(img_shape, all_inside=True, allowed_border=5).tolist() == [
        True,
        True,
        False,
        True,
    ]


def test_find_inside_points_hand_computed():
    boxes = HorizontalBoxes([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 20.0, 20.0]])
    points = torch.tensor([[1.0, 1.0], [10.0, 10.0], [15.0, 6.0]])
    assert boxes.find_inside_points(points).tolist() == [[True, False], [True, True], [False, True]]
    assert boxes.find_inside_points(points[:2], is_aligned=True).tolist() == [True, True]
    with pytest.raises(ValueError, match="as many points as boxes, but got 3 and 2"):
        boxes.find_inside_points(points, is_aligned=True)


def test_overlaps_static_method_matches_torchvision_box_iou():
    a, b = HorizontalBoxes(random_xyxy(4, seed=3)), HorizontalBoxes(random_xyxy(5, seed=4))
    torch.testing.assert_close(HorizontalBoxes.overlaps(a, b), tv_ops.box_iou(a.tensor, b.tensor))
    torch.testing.assert_close(
        HorizontalBoxes.overlaps(a, b, mode="giou"), tv_ops.generalized_box_iou(a.tensor, b.tensor)
    )


# ---------------------------------------------------------------- from masks
def test_from_instance_masks_arrays_match_torchvision_masks_to_boxes():
    """torchvision's x2/y2 are the last occupied column/row; ours add 1 (width = x2 - x1)."""
    g = torch.Generator().manual_seed(5)
    masks = torch.rand(4, 12, 15, generator=g) > 0.8
    masks[2] = False
    masks[2, 3:6, 4:9] = True
    expected = tv_ops.masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])
    for data in (masks, masks.numpy(), masks.numpy().astype(np.uint8)):
        boxes = HorizontalBoxes.from_instance_masks(data)
        torch.testing.assert_close(boxes.tensor, expected)
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(masks).tensor[2], torch.tensor([4.0, 3.0, 9.0, 6.0])
    )


def test_from_instance_masks_empty_mask_and_no_masks():
    masks = np.zeros((2, 5, 5), dtype=bool)
    masks[1, 2, 3] = True
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(masks).tensor,
        torch.tensor([[0.0, 0.0, 0.0, 0.0], [3.0, 2.0, 4.0, 3.0]]),
    )
    assert HorizontalBoxes.from_instance_masks(np.zeros((0, 5, 5), dtype=bool)).shape == (0, 4)


class BitmapLike:
    def __init__(self, masks):
        self.masks = masks


def test_from_instance_masks_duck_types_bitmap_and_polygon_masks():
    bitmap = np.zeros((1, 6, 6), dtype=np.uint8)
    bitmap[0, 1:4, 2:5] = 1
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(BitmapLike(bitmap)).tensor,
        torch.tensor([[2.0, 1.0, 5.0, 4.0]]),
    )
    polygons = BitmapLike(
        [
            [np.array([1.0, 2.0, 3.0, 4.0, 2.0, 8.0])],
            [],
            [np.array([0, 1, 1, 1, 1, 0]), np.array([5, 5, 6, 7, 5, 7])],
        ]
    )
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(polygons).tensor,
        torch.tensor([[1.0, 2.0, 3.0, 8.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 6.0, 7.0]]),
    )
    with pytest.raises(
        TypeError,
        match="masks must be BitmapMasks, PolygonMasks or an \\(N, H, W\\) array, but got str",
    ):
        HorizontalBoxes.from_instance_masks("masks")
    with pytest.raises(
        ValueError, match=r"bitmap masks must have shape \(N, H, W\), but got \(5, 5\)"
    ):
        HorizontalBoxes.from_instance_masks(np.zeros((5, 5)))


# ---------------------------------------------------------------- box-type registry
class ToyRotatedBoxes(BaseBoxes):
    """(cx, cy, w, h, angle) boxes; only what the registry tests need."""

    box_dim = 5
    centers = areas = widths = heights = None

    def flip_(self, img_shape, direction="horizontal"):
        raise NotImplementedError

    translate_ = clip_ = rotate_ = project_ = rescale_ = resize_ = flip_
    is_inside = find_inside_points = flip_
    overlaps = from_instance_masks = staticmethod(flip_)


@pytest.fixture
def clean_box_registry():
    saved = (dict(box_types), dict(box_type_module._box_type_to_name), dict(box_converters))
    yield
    for live, old in zip((box_types, box_type_module._box_type_to_name, box_converters), saved):
        live.clear()
        live.update(old)


def test_hbox_is_registered():
    assert get_box_type("hbox") == ("hbox", HorizontalBoxes)
    assert get_box_type("HBox") == ("hbox", HorizontalBoxes)
    assert get_box_type(HorizontalBoxes) == ("hbox", HorizontalBoxes)


def test_a_rotated_box_type_plugs_in_with_converters(clean_box_registry):
    register_box_type("rbox", ToyRotatedBoxes)

    @register_box_type_converter("hbox", "rbox")
    def hbox2rbox(boxes):
        return torch.cat(
            [bbox_xyxy_to_cxcywh(boxes), boxes.new_zeros(*boxes.shape[:-1], 1)], dim=-1
        )

    @register_box_type_converter(ToyRotatedBoxes, HorizontalBoxes)
    def rbox2hbox(boxes):  # exact for angle 0
        return bbox_cxcywh_to_xyxy(boxes[..., :4])

    hboxes = HorizontalBoxes([[0.0, 0.0, 4.0, 2.0]])
    rboxes = hboxes.convert_to("rbox")
    assert isinstance(rboxes, ToyRotatedBoxes)
    torch.testing.assert_close(rboxes.tensor, torch.tensor([[2.0, 1.0, 4.0, 2.0, 0.0]]))
    torch.testing.assert_close(convert_box_type(rboxes, dst_type="hbox").tensor, hboxes.tensor)
    as_array = convert_box_type(hboxes.numpy(), src_type="hbox", dst_type="rbox")
    assert isinstance(as_array, np.ndarray) and as_array.shape == (1, 5)
    as_tensor = convert_box_type(hboxes.tensor, src_type=HorizontalBoxes, dst_type=ToyRotatedBoxes)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (1, 5)
    assert convert_box_type(hboxes, dst_type="hbox") is hboxes
    with pytest.raises(KeyError, match="a converter from 'hbox' to 'rbox' is already registered"):
        register_box_type_converter("hbox", "rbox", hbox2rbox)


def test_registry_errors_are_clear(clean_box_registry):
    with pytest.raises(
        KeyError, match="box type 'hbox' or class ToyRotatedBoxes is already registered"
    ):
        register_box_type("hbox", ToyRotatedBoxes)
    with pytest.raises(
        KeyError, match="box type 'qbox' is not registered; registered: \\['hbox'\\]"
    ):
        get_box_type("qbox")
    with pytest.raises(KeyError, match="box class ToyRotatedBoxes is not registered"):
        get_box_type(ToyRotatedBoxes)
    with pytest.raises(TypeError, match="must be a subclass of BaseBoxes"):
        register_box_type("thing", dict)
    register_box_type("rbox", ToyRotatedBoxes)
    with pytest.raises(KeyError, match="no converter from 'hbox' to 'rbox' is registered"):
        convert_box_type(HorizontalBoxes(XYXY), dst_type="rbox")
    with pytest.raises(ValueError, match="needs src_type when boxes is a Tensor or ndarray"):
        convert_box_type(XYXY, dst_type="rbox")
    register_box_type("hbox2", ToyRotatedBoxes, force=True)  # force moves the class to a new name
    assert get_box_type(ToyRotatedBoxes)[0] == "hbox2" and "rbox" not in box_types


def test_autocast_box_type_wraps_and_unwraps_gt_bboxes():
    seen = {}

    class ShiftTransform:
        @autocast_box_type()
        def transform(self, results):
            seen["type"] = type(results.get("gt_bboxes"))
            if "gt_bboxes" in results:
                results["gt_bboxes"].translate_((1, 1))
            return results

    array = XYXY.numpy().copy()
    mixed = {"gt_bboxes": array.copy()}
    output = ShiftTransform().transform({"gt_bboxes": array, "mix_results": [mixed]})
    assert seen["type"] is HorizontalBoxes
    assert isinstance(output["gt_bboxes"], np.ndarray) and isinstance(
        mixed["gt_bboxes"], np.ndarray
    )
    np.testing.assert_allclose(output["gt_bboxes"], XYXY.numpy() + 1)
    assert ShiftTransform().transform({"img": None}) == {"img": None}
    with pytest.raises(
        TypeError, match=r"expects results\['gt_bboxes'\] to be boxes or an ndarray, but got list"
    ):
        ShiftTransform().transform({"gt_bboxes": [[0, 0, 1, 1]]})


# ---------------------------------------------------------------- plain-tensor helpers
def test_bbox2roi_and_roi2bbox_hand_computed():
    per_image = [
        torch.tensor([[1.0, 2.0, 3.0, 4.0]]),
        torch.zeros(0, 4),
        HorizontalBoxes([[5.0, 6.0, 7.0, 8.0], [0.0, 0.0, 1.0, 1.0]]),
    ]
    rois = bbox2roi(per_image)
    expected = torch.tensor([[0.0, 1, 2, 3, 4], [2.0, 5, 6, 7, 8], [2.0, 0, 0, 1, 1]])
    torch.testing.assert_close(rois, expected)
    back = roi2bbox(rois)  # one entry per image index present (image 1 has none)
    assert len(back) == 2
    torch.testing.assert_close(back[1], per_image[2].tensor)
    with pytest.raises(ValueError, match="bbox2roi needs the boxes of at least one image"):
        bbox2roi([])


def test_bbox_mapping_and_back_hand_computed():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    # scale (w 2, h 0.5) to a 100 x 80 test image, then flip horizontally: x -> 80 - x
    mapped = bbox_mapping(boxes, (100, 80), (2.0, 0.5), flip=True)
    torch.testing.assert_close(mapped, torch.tensor([[20.0, 10.0, 60.0, 30.0]]))
    torch.testing.assert_close(bbox_mapping_back(mapped, (100, 80), (2.0, 0.5), flip=True), boxes)
    torch.testing.assert_close(
        bbox_mapping(boxes, (100, 80), [2.0, 0.5, 2.0, 0.5], flip=False),
        torch.tensor([[20.0, 10.0, 60.0, 30.0]]),
    )
    with pytest.raises(
        ValueError,
        match="scale_factor must be a number, \\(w_scale, h_scale\\) or \\(w, h, w, h\\), but got 3 values",
    ):
        bbox_mapping(boxes, (100, 80), (1.0, 2.0, 3.0), flip=False)


def test_distance2bbox_and_bbox2distance_hand_computed_and_round_trip():
    points = torch.tensor([[10.0, 10.0], [50.0, 40.0]])
    distances = torch.tensor([[2.0, 3.0, 4.0, 5.0], [60.0, 1.0, 1.0, 100.0]])
    boxes = distance2bbox(points, distances)
    torch.testing.assert_close(
        boxes, torch.tensor([[8.0, 7.0, 14.0, 15.0], [-10.0, 39.0, 51.0, 140.0]])
    )
    torch.testing.assert_close(bbox2distance(points, boxes), distances)
    clipped = distance2bbox(points, distances, max_shape=(100, 60))  # (h, w)
    torch.testing.assert_close(
        clipped, torch.tensor([[8.0, 7.0, 14.0, 15.0], [0.0, 39.0, 51.0, 100.0]])
    )
    torch.testing.assert_close(
        bbox2distance(points, boxes, max_dis=16, eps=0.1)[1], torch.tensor([15.9, 1.0, 1.0, 15.9])
    )


def test_distance2bbox_per_image_max_shape():
    points = torch.full((2, 3, 2), 5.0)
    boxes = distance2bbox(points, torch.full((2, 3, 4), 10.0), max_shape=[[8, 9], [100, 100]])
    torch.testing.assert_close(boxes[0], torch.tensor([[0.0, 0.0, 9.0, 8.0]]).expand(3, 4))
    torch.testing.assert_close(boxes[1], torch.tensor([[0.0, 0.0, 15.0, 15.0]]).expand(3, 4))
    with pytest.raises(
        ValueError,
        match="per-image max_shape of shape \\(2, 2\\) needs boxes of shape \\(2, N, 4\\)",
    ):
        distance2bbox(points[0], torch.ones(3, 4), max_shape=[[8, 9], [100, 100]])


def test_bbox_rescale_boxes_and_rois_hand_computed():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    torch.testing.assert_close(bbox_rescale(boxes, 1.5), torch.tensor([[5.0, 10.0, 35.0, 70.0]]))
    rois = torch.tensor([[3.0, 10.0, 20.0, 30.0, 60.0]])
    torch.testing.assert_close(
        bbox_rescale(rois, 0.5), torch.tensor([[3.0, 15.0, 30.0, 25.0, 50.0]])
    )


def test_scale_boxes_get_box_tensor_empty_box_as_cat_stack():
    torch.testing.assert_close(
        scale_boxes(XYXY, (2.0, 0.5)), XYXY * torch.tensor([2.0, 0.5, 2.0, 0.5])
    )
    boxes = HorizontalBoxes(XYXY)
    assert scale_boxes(boxes, (2.0, 0.5)) is boxes
    torch.testing.assert_close(boxes.tensor, XYXY * torch.tensor([2.0, 0.5, 2.0, 0.5]))
    assert get_box_tensor(boxes) is boxes.tensor and get_box_tensor(XYXY) is XYXY
    assert isinstance(empty_box_as(boxes), HorizontalBoxes) and empty_box_as(boxes).shape == (0, 4)
    assert (
        empty_box_as(XYXY.double()).shape == (0, 4)
        and empty_box_as(XYXY.double()).dtype == torch.float64
    )
    assert isinstance(cat_boxes([boxes, boxes]), HorizontalBoxes) and cat_boxes(
        [XYXY, XYXY]
    ).shape == (6, 4)
    assert stack_boxes([boxes, boxes]).shape == (2, 3, 4) and stack_boxes([XYXY, XYXY]).shape == (
        2,
        3,
        4,
    )


# ---------------------------------------------------------------- parity with MMDetection 3.3.0
@pytest.mark.peer
def test_geometry_matches_mmdet_horizontal_boxes(mmdet):
    from mmdet.structures.bbox import HorizontalBoxes as MMDetBoxes

    data = random_xyxy(7, seed=6) - 10
    homography = np.array(
        [[0.9, 0.1, 3.0], [0.05, 1.2, -2.0], [1e-3, -5e-4, 1.0]], dtype=np.float32
    )
    operations = [
        ("flip_", ((60, 50), "horizontal")),
        ("flip_", ((60, 50), "vertical")),
        ("flip_", ((60, 50), "diagonal")),
        ("translate_", ((3.0, -4.0),)),
        ("clip_", ((40, 30),)),
        ("rotate_", ((20.0, 15.0), 33.0)),
        ("project_", (homography,)),
        ("rescale_", ((1.5, 0.5),)),
        ("resize_", ((1.5, 0.5),)),
    ]
    for name, args in operations:
        ours, theirs = HorizontalBoxes(data), MMDetBoxes(data.clone())
        getattr(ours, name)(*args)
        getattr(theirs, name)(*args)
        torch.testing.assert_close(ours.tensor, theirs.tensor, msg=name)
    ours, theirs = HorizontalBoxes(data), MMDetBoxes(data.clone())
    for kwargs in ({}, {"all_inside": True}, {"all_inside": True, "allowed_border": 8}):
        assert torch.equal(ours.is_inside((40, 30), **kwargs), theirs.is_inside((40, 30), **kwargs))
    points = torch.rand(9, 2) * 60 - 10
    assert torch.equal(ours.find_inside_points(points), theirs.find_inside_points(points))
    torch.testing.assert_close(
        HorizontalBoxes(data, in_mode="cxcywh").tensor, MMDetBoxes(data, in_mode="cxcywh").tensor
    )


@pytest.mark.peer
def test_from_instance_masks_matches_mmdet_bitmap_and_polygon_masks(mmdet):
    from mmdet.structures.bbox import HorizontalBoxes as MMDetBoxes
    from mmdet.structures.mask import BitmapMasks, PolygonMasks

    g = torch.Generator().manual_seed(7)
    bitmaps = BitmapMasks(
        (torch.rand(5, 20, 24, generator=g) > 0.9).numpy().astype(np.uint8), 20, 24
    )
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(bitmaps).tensor,
        MMDetBoxes.from_instance_masks(bitmaps).tensor,
    )
    polygons = PolygonMasks(
        [
            [np.array([1.0, 2.0, 9.0, 3.0, 4.0, 11.0])],
            [np.array([0.0, 0.0, 5.0, 0.0, 5.0, 5.0]), np.array([7.0, 8.0, 12.0, 9.0, 10.0, 15.0])],
        ],
        20,
        24,
    )
    torch.testing.assert_close(
        HorizontalBoxes.from_instance_masks(polygons).tensor,
        MMDetBoxes.from_instance_masks(polygons).tensor,
    )


@pytest.mark.peer
def test_plain_helpers_match_mmdet(mmdet):
    from mmdet.structures import bbox as mmdet_bbox

    boxes = random_xyxy(6, seed=8)
    points = boxes[:, :2] + 3
    torch.testing.assert_close(
        bbox2distance(points, boxes, max_dis=20.0),
        mmdet_bbox.bbox2distance(points, boxes, max_dis=20.0),
    )
    distances = torch.rand(6, 4) * 30
    torch.testing.assert_close(
        distance2bbox(points, distances, (40, 35)),
        mmdet_bbox.distance2bbox(points, distances, (40, 35)),
    )
    torch.testing.assert_close(bbox_rescale(boxes, 1.3), mmdet_bbox.bbox_rescale(boxes, 1.3))
    for direction in ("horizontal", "vertical", "diagonal"):
        torch.testing.assert_close(
            bbox_flip(boxes, (70, 90), direction), mmdet_bbox.bbox_flip(boxes, (70, 90), direction)
        )
    rois = bbox2roi([boxes[:2], boxes[2:]])
    torch.testing.assert_close(rois, mmdet_bbox.bbox2roi([boxes[:2], boxes[2:]]))
    for ours, theirs in zip(roi2bbox(rois), mmdet_bbox.roi2bbox(rois)):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(bbox_xyxy_to_cxcywh(boxes), mmdet_bbox.bbox_xyxy_to_cxcywh(boxes))
    torch.testing.assert_close(
        scale_boxes(boxes, (2.0, 3.0)), mmdet_bbox.scale_boxes(boxes, (2.0, 3.0))
    )


def test_from_instance_masks_accepts_detcore_masks():
    """Hand-computed bounds of detcore.structures.mask's BitmapMasks and PolygonMasks."""
    mask_module = pytest.importorskip("detcore.structures.mask")
    bitmaps = np.zeros((2, 8, 9), dtype=np.uint8)
    bitmaps[0, 1:3, 2:5] = 1
    boxes = HorizontalBoxes.from_instance_masks(mask_module.BitmapMasks(bitmaps, 8, 9))
    torch.testing.assert_close(
        boxes.tensor, torch.tensor([[2.0, 1.0, 5.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    )
    polygons = mask_module.PolygonMasks([[np.array([1.0, 2.0, 5.0, 2.0, 5.0, 6.0])]], 8, 9)
    boxes = HorizontalBoxes.from_instance_masks(polygons)
    torch.testing.assert_close(boxes.tensor, torch.tensor([[1.0, 2.0, 5.0, 6.0]]))
