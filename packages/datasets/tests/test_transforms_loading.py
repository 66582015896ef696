"""Loading transforms: images (OpenCV, EXIF orientation, errors naming the file) and
annotations (boxes, labels, flags, masks, seg maps), against files written here and
pycocotools."""

from __future__ import annotations

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from detcore.structures import BitmapMasks, HorizontalBoxes, PolygonMasks
from detdatasets.transforms import LoadAnnotations, LoadImageFromFile, LoadImageFromNDArray


@pytest.fixture
def png(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    path = tmp_path / "image.png"
    cv2.imwrite(str(path), img)
    return path, img


def test_color_png_loads_the_pixels_written(png):
    path, img = png
    results = LoadImageFromFile()(dict(img_path=str(path)))
    np.testing.assert_array_equal(results["img"], img)
    assert results["img"].dtype == np.uint8
    assert results["img_shape"] == results["ori_shape"] == (12, 20)


def test_grayscale_rgb_and_float32(png):
    path, img = png
    gray = LoadImageFromFile(color_type="grayscale")(dict(img_path=str(path)))["img"]
    assert gray.shape == (12, 20)  # the decoder's luma rounds within 1 of cvtColor's
    np.testing.assert_allclose(gray, cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), atol=1)
    rgb = LoadImageFromFile(channel_order="rgb", to_float32=True)(dict(img_path=str(path)))
    assert rgb["img"].dtype == np.float32
    np.testing.assert_array_equal(rgb["img"], img[..., ::-1].astype(np.float32))


def test_exif_orientation_is_applied(tmp_path):
    """EXIF orientation 6 (the camera was turned): the loaded image is the stored one turned
    90 degrees clockwise, as Pillow's exif_transpose shows it."""
    stored = np.zeros((10, 16, 3), np.uint8)
    stored[:5, :8] = (255, 0, 0)  # RGB red block at the stored top left
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif, quality=100)

    loaded = LoadImageFromFile()(dict(img_path=str(path)))["img"]
    as_stored = LoadImageFromFile(color_type="color_ignore_orientation")(
        dict(img_path=str(path)))["img"]
    with Image.open(path) as image:
        from PIL import ImageOps

        shown = np.asarray(ImageOps.exif_transpose(image))
    assert as_stored.shape == (10, 16, 3)
    assert loaded.shape == shown.shape == (16, 10, 3)
    np.testing.assert_array_equal(loaded, np.rot90(as_stored, k=-1))
    assert loaded[:8, 5:].mean(axis=(0, 1))[2] > 200  # red (BGR) at the top right now


def test_missing_file_error_names_the_file(tmp_path):
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(FileNotFoundError, match="image file not found: .*nowhere.jpg"):
        LoadImageFromFile()(dict(img_path=str(path)))
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(path))) is None


def test_corrupt_file_error_names_the_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ValueError, match="cannot decode image file .*broken.jpg"):
        LoadImageFromFile()(dict(img_path=str(path)))
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(path))) is None


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="color_type must be one of"):
        LoadImageFromFile(color_type="colour")
    with pytest.raises(ValueError, match="only local files"):
        LoadImageFromFile(backend_args=dict(backend="petrel"))
    with pytest.raises(ValueError, match="imdecode_backend must be 'cv2'"):
        LoadImageFromFile(imdecode_backend="pillow")
    with pytest.raises(KeyError, match="needs results\\['img_path'\\]"):
        LoadImageFromFile()(dict(img=np.zeros((2, 2))))


def test_load_image_from_ndarray():
    img = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    results = LoadImageFromNDArray(to_float32=True)(dict(img=img))
    assert results["img_path"] is None
    assert results["img_shape"] == results["ori_shape"] == (2, 4)
    np.testing.assert_array_equal(results["img"], img.astype(np.float32))
    with pytest.raises(TypeError, match="needs results\\['img'\\] to be an ndarray"):
        LoadImageFromNDArray()(dict(img="a.jpg"))


def record(*instances, height=16, width=20):
    return dict(img_path="a.jpg", ori_shape=(height, width), instances=list(instances))


def test_boxes_labels_and_flags():
    results = LoadAnnotations()(record(
        dict(bbox=[1, 2, 5, 9], bbox_label=3, ignore_flag=0),
        dict(bbox=[0.5, 0, 20, 16], bbox_label=0, ignore_flag=1)))
    assert isinstance(results["gt_bboxes"], HorizontalBoxes)
    assert results["gt_bboxes"].tensor.tolist() == [[1, 2, 5, 9], [0.5, 0, 20, 16]]
    assert results["gt_bboxes_labels"].dtype == np.int64
    assert results["gt_bboxes_labels"].tolist() == [3, 0]
    assert results["gt_ignore_flags"].tolist() == [False, True]


def test_no_instances_gives_empty_arrays_of_the_right_shapes():
    results = LoadAnnotations(with_mask=True, box_type=None)(record())
    assert results["gt_bboxes"].shape == (0, 4) and results["gt_bboxes"].dtype == np.float32
    assert results["gt_bboxes_labels"].shape == (0,)
    assert results["gt_ignore_flags"].shape == (0,)
    assert results["gt_masks"].masks.shape == (0, 16, 20)


def test_polygons_and_rles_rasterise_like_pycocotools():
    height, width = 16, 20
    polygon = [[2, 2, 12, 2, 12, 10, 2, 10]]
    bitmap = np.zeros((height, width), np.uint8, order="F")
    bitmap[5:9, 14:19] = 1
    rle = mask_utils.encode(bitmap)
    results = LoadAnnotations(with_mask=True)(record(
        dict(bbox=[2, 2, 12, 10], bbox_label=0, mask=polygon),
        dict(bbox=[14, 5, 19, 9], bbox_label=1, mask=rle)))
    masks = results["gt_masks"]
    assert isinstance(masks, BitmapMasks) and masks.masks.shape == (2, height, width)
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygon, height, width)))
    np.testing.assert_array_equal(masks.masks[0], expected)
    assert masks.masks[0].sum() == mask_utils.area(mask_utils.frPyObjects(polygon, height, width))[0]
    np.testing.assert_array_equal(masks.masks[1], bitmap)
    assert results["gt_ignore_flags"].tolist() == [False, False]


def test_unusable_masks_are_ignored_and_kept_aligned():
    results = LoadAnnotations(with_mask=True, poly2mask=False)(record(
        dict(bbox=[2, 2, 12, 10], bbox_label=0, mask=[[2, 2, 12, 2, 12, 10]]),
        dict(bbox=[1, 1, 3, 3], bbox_label=1, mask=[[1, 1, 3, 3]]),  # too few points
        dict(bbox=[1, 1, 3, 3], bbox_label=2, mask={"size": [16, 20], "counts": "abc"})))
    assert isinstance(results["gt_masks"], PolygonMasks)
    assert len(results["gt_masks"]) == len(results["gt_bboxes"]) == 3
    assert results["gt_ignore_flags"].tolist() == [False, True, True]


def test_annotation_errors_name_the_record():
    with pytest.raises(ValueError, match="a.jpg instance 1: 'bbox' must be \\[x1, y1, x2, y2\\]"):
        LoadAnnotations()(record(dict(bbox=[1, 2, 3, 4], bbox_label=0),
                                 dict(bbox=[1, 2, 3], bbox_label=0)))
    with pytest.raises(ValueError, match="a.jpg instance 0: 'mask' must be a list of polygons"):
        LoadAnnotations(with_mask=True)(record(dict(bbox=[1, 2, 3, 4], bbox_label=0,
                                                    mask=[1, 2, 3, 4, 5, 6])))
    with pytest.raises(KeyError, match="needs results\\['ori_shape'\\]"):
        LoadAnnotations(with_mask=True)(dict(instances=[]))


def test_semantic_seg_reduce_zero_label_by_hand(tmp_path):
    seg = np.array([[0, 1, 2], [3, 255, 0]], np.uint8)
    cv2.imwrite(str(tmp_path / "seg.png"), seg)
    load = LoadAnnotations(with_bbox=False, with_label=False, with_seg=True,
                           reduce_zero_label=True)
    results = load(dict(seg_map_path=str(tmp_path / "seg.png")))
    assert results["gt_seg_map"].tolist() == [[255, 0, 1], [2, 255, 255]]
    assert results["ignore_index"] == 255
    remapped = LoadAnnotations(with_bbox=False, with_label=False, with_seg=True)(
        dict(seg_map_path=str(tmp_path / "seg.png"), label_map={1: 2, 2: 1}))
    assert remapped["gt_seg_map"].tolist() == [[0, 2, 1], [3, 255, 0]]
