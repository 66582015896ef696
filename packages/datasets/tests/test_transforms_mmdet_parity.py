"""Transforms against MMDetection 3.3.0 itself: the same input through mmdet's transform and
ours (numpy's global RNG seeded identically for the random ones) must give the same image,
boxes, labels, ignore flags, masks and meta keys."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

import detdatasets.transforms as T
from detcore.structures import BitmapMasks, HorizontalBoxes, PolygonMasks

pytestmark = pytest.mark.peer

META_KEYS = ("img_shape", "ori_shape", "scale", "scale_factor", "keep_ratio", "flip",
             "flip_direction", "pad_shape", "homography_matrix", "scale_idx")


def make_sample(seed: int, height: int = 40, width: int = 60, num: int = 4,
                with_masks: bool = True) -> dict:
    """A random image with ``num`` boxes, each with a box-shaped bitmap mask inside the
    image, labels and alternating ignore flags (all plain arrays)."""
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(0, width - 10, num)
    y1 = rng.uniform(0, height - 10, num)
    boxes = np.stack([x1, y1, x1 + rng.uniform(3, 25, num), y1 + rng.uniform(3, 25, num)], 1)
    boxes = boxes.clip(0, [width, height, width, height]).astype(np.float32)
    sample = dict(img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                  img_shape=(height, width), ori_shape=(height, width), gt_bboxes=boxes,
                  gt_bboxes_labels=rng.integers(0, 5, num).astype(np.int64),
                  gt_ignore_flags=np.arange(num) % 2 == 1)
    if with_masks:
        rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
        sample["gt_masks"] = np.stack([
            (rows >= int(b[1])) & (rows < int(b[3])) & (cols >= int(b[0])) & (cols < int(b[2]))
            for b in boxes]).astype(np.uint8)
    return sample


def as_ours(sample: dict) -> dict:
    sample = copy.deepcopy(sample)
    sample["gt_bboxes"] = HorizontalBoxes(sample["gt_bboxes"])
    if "gt_masks" in sample:
        sample["gt_masks"] = BitmapMasks(sample["gt_masks"], *sample["img"].shape[:2])
    if "mix_results" in sample:
        sample["mix_results"] = [as_ours(other) for other in sample["mix_results"]]
    return sample


def as_mmdet(sample: dict) -> dict:
    from mmdet.structures.bbox import HorizontalBoxes as MMDetBoxes
    from mmdet.structures.mask import BitmapMasks as MMDetBitmapMasks

    sample = copy.deepcopy(sample)
    sample["gt_bboxes"] = MMDetBoxes(sample["gt_bboxes"])
    if "gt_masks" in sample:
        sample["gt_masks"] = MMDetBitmapMasks(sample["gt_masks"], *sample["img"].shape[:2])
    if "mix_results" in sample:
        sample["mix_results"] = [as_mmdet(other) for other in sample["mix_results"]]
    return sample


def build_ours(cfg: dict):
    return getattr(T, cfg["type"])(**{k: v for k, v in cfg.items() if k != "type"})


def run_both(mmdet, cfg: dict, sample: dict, seed: int = 0):
    """(ours, mmdet's) outputs of ``cfg`` on ``sample``, the global RNG seeded alike."""
    ours = build_ours(cfg)
    theirs = mmdet.registry.TRANSFORMS.build(copy.deepcopy(cfg))
    np.random.seed(seed)
    out = ours(as_ours(sample))
    np.random.seed(seed)
    ref = theirs(as_mmdet(sample))
    return out, ref


def assert_same(out: dict, ref: dict, masks: bool = True) -> None:
    assert (out is None) == (ref is None)
    if ref is None:
        return
    if ref["img"].dtype == np.float32:
        np.testing.assert_allclose(out["img"], ref["img"], rtol=1e-5, atol=1e-3)
    else:
        np.testing.assert_array_equal(out["img"], ref["img"])
    for key in META_KEYS:
        if key in ref:
            np.testing.assert_array_equal(np.asarray(out[key]), np.asarray(ref[key]), err_msg=key)
    np.testing.assert_allclose(out["gt_bboxes"].tensor.numpy(), ref["gt_bboxes"].tensor.numpy(),
                               rtol=1e-6, atol=1e-4)
    for key in ("gt_bboxes_labels", "gt_ignore_flags"):
        np.testing.assert_array_equal(out[key], ref[key], err_msg=key)
    if masks and ref.get("gt_masks") is not None:
        np.testing.assert_array_equal(out["gt_masks"].masks, ref["gt_masks"].masks)


# ---------------------------------------------------------------------------- deterministic
@pytest.mark.parametrize("cfg", [
    dict(type="Resize", scale=(50, 30), keep_ratio=True),
    dict(type="Resize", scale=(50, 30), keep_ratio=False),
    dict(type="Resize", scale=(33, 64), keep_ratio=True, interpolation="nearest"),
    dict(type="Resize", scale_factor=1.7, keep_ratio=True),
    dict(type="Resize", scale_factor=(0.6, 1.3)),
    dict(type="Resize", scale=(30, 20), clip_object_border=False),
    dict(type="FixShapeResize", width=50, height=50),
    dict(type="FixShapeResize", width=48, height=64, keep_ratio=True),
    dict(type="RandomFlip", prob=1.0, direction="horizontal"),
    dict(type="RandomFlip", prob=1.0, direction="vertical"),
    dict(type="RandomFlip", prob=1.0, direction="diagonal"),
    dict(type="Pad", size=(64, 48)),
    dict(type="Pad", size_divisor=32, pad_val=dict(img=7, masks=0)),
    dict(type="Pad", pad_to_square=True, pad_val=3),
    dict(type="Pad", size=(64, 64), padding_mode="reflect"),
], ids=lambda cfg: "-".join(f"{v}" for v in cfg.values()))
def test_deterministic_transform_matches_mmdet(mmdet, cfg):
    out, ref = run_both(mmdet, cfg, make_sample(1))
    assert_same(out, ref)


@pytest.mark.parametrize("cfg", [
    dict(type="Resize", scale=(50, 30), keep_ratio=True),
    dict(type="RandomFlip", prob=1.0, direction="diagonal"),
])
def test_ndarray_boxes_come_back_as_ndarray_like_mmdet(mmdet, cfg):
    """With box_type=None boxes are plain (N, 4) arrays in and out."""
    sample = make_sample(2, with_masks=False)
    out = build_ours(cfg)(copy.deepcopy(sample))
    ref = mmdet.registry.TRANSFORMS.build(copy.deepcopy(cfg))(copy.deepcopy(sample))
    assert isinstance(out["gt_bboxes"], np.ndarray)
    np.testing.assert_allclose(out["gt_bboxes"], ref["gt_bboxes"], atol=1e-4)


def test_resize_then_flip_then_pad_pipeline_matches_mmdet(mmdet):
    steps = [dict(type="Resize", scale=(50, 37), keep_ratio=True),
             dict(type="RandomFlip", prob=1.0, direction="horizontal"),
             dict(type="Pad", size_divisor=8)]
    out, ref = as_ours(make_sample(3)), as_mmdet(make_sample(3))
    for cfg in steps:
        out = build_ours(cfg)(out)
        ref = mmdet.registry.TRANSFORMS.build(copy.deepcopy(cfg))(ref)
    assert_same(out, ref)


# ---------------------------------------------------------------------------- random, seeded alike
RANDOM_CASES = [
    dict(type="RandomFlip", prob=[0.3, 0.3, 0.3], direction=["horizontal", "vertical", "diagonal"]),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomCrop", crop_size=(20, 30), allow_negative_crop=True),
    dict(type="RandomCrop", crop_size=(20, 30)),
    dict(type="RandomCrop", crop_size=(0.5, 0.7), crop_type="relative"),
    dict(type="RandomCrop", crop_size=(0.4, 0.4), crop_type="relative_range",
         allow_negative_crop=True),
    dict(type="RandomCrop", crop_size=(10, 40), crop_type="absolute_range",
         allow_negative_crop=True, recompute_bbox=True),
    dict(type="Expand", mean=(1, 2, 3), ratio_range=(1, 2), prob=0.7),
    dict(type="Expand", mean=(10, 20, 30), to_rgb=False, ratio_range=(1.5, 3), prob=1.0),
    dict(type="PhotoMetricDistortion"),
    dict(type="PhotoMetricDistortion", brightness_delta=60, hue_delta=90),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="CutOut", n_holes=(1, 4), cutout_ratio=[(0.1, 0.2), (0.3, 0.3)]),
    dict(type="CutOut", n_holes=2, cutout_shape=(9, 5), fill_in=(255, 0, 17)),
    dict(type="RandomErasing", n_patches=(1, 4), ratio=(0.1, 0.5)),
    dict(type="RandomErasing", n_patches=3, ratio=(0.1, 0.6), squared=False,
         bbox_erased_thr=0.3),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(8, 8)),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(0, 0), by_mask=True, min_gt_mask_area=120),
]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("cfg", RANDOM_CASES, ids=lambda cfg: cfg["type"])
def test_random_transform_matches_mmdet_under_the_same_seed(mmdet, cfg, seed):
    out, ref = run_both(mmdet, cfg, make_sample(10 + seed), seed=seed)
    assert_same(out, ref)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_affine_matches_mmdet_under_the_same_seed(mmdet, seed):
    cfg = dict(type="RandomAffine", max_rotate_degree=30, max_shear_degree=10,
               border=(-8, -4))
    out, ref = run_both(mmdet, cfg, make_sample(20 + seed, with_masks=False), seed=seed)
    assert_same(out, ref)


def with_mix_results(seed: int, count: int, with_masks: bool) -> dict:
    sample = make_sample(seed, with_masks=with_masks)
    sample["mix_results"] = [make_sample(seed * 10 + i, 30 + 7 * i, 50 - 5 * i,
                                         with_masks=with_masks) for i in range(count)]
    return sample


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mosaic_matches_mmdet_under_the_same_seed(mmdet, seed):
    cfg = dict(type="Mosaic", img_scale=(40, 30), center_ratio_range=(0.6, 1.4))
    out, ref = run_both(mmdet, cfg, with_mix_results(seed, 3, with_masks=False), seed=seed)
    assert_same(out, ref)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mixup_matches_mmdet_under_the_same_seed(mmdet, seed):
    cfg = dict(type="MixUp", img_scale=(40, 30), ratio_range=(0.6, 1.6))
    out, ref = run_both(mmdet, cfg, with_mix_results(seed, 1, with_masks=False), seed=seed)
    assert_same(out, ref)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_copy_paste_matches_mmdet_under_the_same_seed(mmdet, seed):
    sample = make_sample(seed, num=5)
    sample["mix_results"] = [make_sample(100 + seed, num=5)]
    out, ref = run_both(mmdet, dict(type="CopyPaste", max_num_pasted=5, mask_occluded_thr=30),
                        sample, seed=seed)
    assert_same(out, ref)


def test_random_resize_and_random_choice_resize_match_mmdet(mmdet):
    for cfg in (dict(type="RandomResize", scale=(60, 40), ratio_range=(0.5, 1.5),
                     keep_ratio=True),
                dict(type="RandomResize", scale=[(30, 20), (64, 48)], keep_ratio=False),
                dict(type="RandomChoiceResize", scales=[(30, 20), (64, 48), (40, 40)],
                     keep_ratio=True)):
        for seed in range(3):
            out, ref = run_both(mmdet, cfg, make_sample(seed), seed=seed)
            assert_same(out, ref)


# ---------------------------------------------------------------------------- loading
def test_load_image_from_file_matches_mmdet(mmdet, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    for color_type in ("color", "grayscale", "unchanged"):
        for to_float32 in (False, True):
            cfg = dict(type="LoadImageFromFile", color_type=color_type, to_float32=to_float32)
            out, ref = run_both_loading(mmdet, cfg, dict(img_path=str(path)))
            np.testing.assert_array_equal(out["img"], ref["img"])
            assert out["img"].dtype == ref["img"].dtype
            assert out["img_shape"] == ref["img_shape"] == out["ori_shape"]


def run_both_loading(mmdet, cfg: dict, results: dict):
    theirs = mmdet.registry.TRANSFORMS.build(copy.deepcopy(cfg))
    return build_ours(cfg)(copy.deepcopy(results)), theirs(copy.deepcopy(results))


def annotated_record() -> dict:
    """A record with a polygon, a two-part polygon, a compressed and an uncompressed RLE,
    an invalid polygon and a crowd box."""
    import pycocotools.mask as mask_utils

    height, width = 24, 32
    bitmap = np.zeros((height, width), np.uint8, order="F")
    bitmap[3:9, 20:30] = 1
    compressed = mask_utils.encode(bitmap)
    compressed["counts"] = compressed["counts"].decode()
    uncompressed = {"size": [height, width], "counts": [3 * height + 2, 5, height - 5, 4, 300]}
    polygons = [[[2, 2, 12, 2, 12, 10, 2, 10]], [[1, 12, 6, 12, 6, 20], [8, 14, 15, 14, 15, 22]],
                compressed, uncompressed, [[1, 2, 3, 4]], [[5, 5, 9, 5, 9, 9]]]
    instances = [dict(bbox=[2, 2, 12, 10], bbox_label=1, ignore_flag=0, mask=polygons[0]),
                 dict(bbox=[1, 12, 15, 22], bbox_label=0, ignore_flag=0, mask=polygons[1]),
                 dict(bbox=[20, 3, 30, 9], bbox_label=3, ignore_flag=0, mask=polygons[2]),
                 dict(bbox=[3, 2, 9, 7], bbox_label=2, ignore_flag=0, mask=polygons[3]),
                 dict(bbox=[1, 2, 3, 4], bbox_label=2, ignore_flag=0, mask=polygons[4]),
                 dict(bbox=[5, 5, 9, 9], bbox_label=4, ignore_flag=1, mask=polygons[5])]
    return dict(img_path="unused.png", height=height, width=width, ori_shape=(height, width),
                instances=instances)


@pytest.mark.parametrize("poly2mask", [True, False])
def test_load_annotations_matches_mmdet(mmdet, poly2mask):
    cfg = dict(type="LoadAnnotations", with_bbox=True, with_label=True, with_mask=True,
               poly2mask=poly2mask)
    out, ref = run_both_loading(mmdet, cfg, annotated_record())
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(),
                                  ref["gt_bboxes"].tensor.numpy())
    np.testing.assert_array_equal(out["gt_bboxes_labels"], ref["gt_bboxes_labels"])
    np.testing.assert_array_equal(out["gt_ignore_flags"], ref["gt_ignore_flags"])
    assert out["gt_ignore_flags"].tolist() == [False, False, not poly2mask, not poly2mask,
                                                True, True]
    if poly2mask:
        assert isinstance(out["gt_masks"], BitmapMasks)
        np.testing.assert_array_equal(out["gt_masks"].masks, ref["gt_masks"].masks)
    else:
        assert isinstance(out["gt_masks"], PolygonMasks)
        for ours, theirs in zip(out["gt_masks"].masks, ref["gt_masks"].masks):
            assert len(ours) == len(theirs)
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(a, b)


def test_load_semantic_seg_matches_mmdet(mmdet, tmp_path):
    seg = np.random.default_rng(0).integers(0, 6, (12, 16)).astype(np.uint8)
    seg[0, :4] = 255
    cv2.imwrite(str(tmp_path / "seg.png"), seg)
    for reduce_zero_label in (False, True):
        cfg = dict(type="LoadAnnotations", with_bbox=False, with_label=False, with_seg=True,
                   reduce_zero_label=reduce_zero_label)
        out, ref = run_both_loading(mmdet, cfg, dict(seg_map_path=str(tmp_path / "seg.png"),
                                                     label_map={1: 4, 4: 1}))
        np.testing.assert_array_equal(out["gt_seg_map"], ref["gt_seg_map"])
        assert out["gt_seg_map"].dtype == ref["gt_seg_map"].dtype
        assert out["ignore_index"] == ref["ignore_index"] == 255


# ---------------------------------------------------------------------------- packing, TTA
def test_pack_det_inputs_matches_mmdet(mmdet):
    sample = make_sample(5, num=5)
    sample.update(img_id=7, img_path="x.jpg", scale_factor=(1.0, 1.0), flip=False,
                  flip_direction=None, gt_seg_map=np.arange(40 * 60, dtype=np.uint8).reshape(40, 60),
                  ignore_index=255)
    out, ref = run_both(mmdet, dict(type="PackDetInputs"), sample)
    assert set(out) == set(ref) == {"inputs", "data_samples"}
    assert out["inputs"].dtype == ref["inputs"].dtype
    np.testing.assert_array_equal(out["inputs"].numpy(), ref["inputs"].numpy())
    ours, theirs = out["data_samples"], ref["data_samples"]
    for group in ("gt_instances", "ignored_instances"):
        mine, reference = getattr(ours, group), getattr(theirs, group)
        np.testing.assert_array_equal(mine.bboxes.tensor.numpy(), reference.bboxes.tensor.numpy())
        np.testing.assert_array_equal(mine.labels.numpy(), reference.labels.numpy())
        np.testing.assert_array_equal(mine.masks.masks, reference.masks.masks)
    assert len(ours.gt_instances) == 3 and len(ours.ignored_instances) == 2
    np.testing.assert_array_equal(ours.gt_sem_seg.sem_seg.numpy(), theirs.gt_sem_seg.sem_seg.numpy())
    assert ours.gt_sem_seg.ignore_index == 255
    assert ours.metainfo == theirs.metainfo


def test_test_time_aug_matches_mmdet(mmdet):
    """The seeds' documented TTA: 3 scales x flip or not, packed."""
    cfg = dict(type="TestTimeAug", transforms=[
        [dict(type="Resize", scale=s, keep_ratio=True) for s in [(64, 40), (32, 20), (80, 48)]],
        [dict(type="RandomFlip", prob=1.0), dict(type="RandomFlip", prob=0.0)],
        [dict(type="PackDetInputs", meta_keys=("img_shape", "scale_factor", "flip",
                                               "flip_direction"))]])
    out, ref = run_both(mmdet, cfg, make_sample(6))
    assert len(out["inputs"]) == len(ref["inputs"]) == 6
    for a, b in zip(out["inputs"], ref["inputs"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(out["data_samples"], ref["data_samples"]):
        assert a.metainfo == b.metainfo
        np.testing.assert_allclose(a.gt_instances.bboxes.tensor.numpy(),
                                   b.gt_instances.bboxes.tensor.numpy(), atol=1e-4)
