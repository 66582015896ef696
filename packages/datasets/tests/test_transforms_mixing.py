"""Mixing transforms (Mosaic, MixUp, CopyPaste) by hand-computed cases and invariants,
masks included, and inside the MultiImageMixDataset wrapper that feeds them."""

from __future__ import annotations

import numpy as np
import pytest

from detcore.structures import BitmapMasks, HorizontalBoxes, PolygonMasks
from detdatasets.transforms import (
    CopyPaste,
    MixUp,
    Mosaic,
)


def sample(boxes, height, width, label_start=0, colour=None, polygons=False, seed=0) -> dict:
    """An image (random, or one ``colour``) with integer boxes, labels counting from
    ``label_start`` and masks filling each box exactly."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    rng = np.random.default_rng(seed)
    img = (np.full((height, width, 3), colour, np.uint8) if colour is not None
           else rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if polygons:
        masks = PolygonMasks([[np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)]
                              for x1, y1, x2, y2 in boxes], height, width)
    else:
        rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
        masks = BitmapMasks(np.array([(rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)
                                      for x1, y1, x2, y2 in boxes.astype(int)],
                                     np.uint8).reshape(-1, height, width), height, width)
    count = len(boxes)
    return dict(img=img, img_shape=(height, width), gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.arange(label_start, label_start + count, dtype=np.int64),
                gt_ignore_flags=np.zeros(count, bool), gt_masks=masks)


def assert_aligned(out: dict, atol: float) -> None:
    """Every per-instance key has one entry per box, boxes are inside the image, and each
    mask's bounds match its box."""
    boxes = out["gt_bboxes"].tensor.numpy()
    height, width = out["img"].shape[:2]
    assert len(out["gt_bboxes_labels"]) == len(out["gt_ignore_flags"]) == len(out["gt_masks"])
    assert len(out["gt_masks"]) == len(boxes)
    assert (out["gt_masks"].height, out["gt_masks"].width) == (height, width)
    assert (boxes >= 0).all() and (boxes[:, 0::2] <= width).all() and (boxes[:, 1::2] <= height).all()
    bounds = HorizontalBoxes.from_instance_masks(out["gt_masks"]).tensor.numpy()
    np.testing.assert_allclose(bounds, boxes, atol=atol)


# ---------------------------------------------------------------------------- Mosaic
def test_mosaic_by_hand():
    """Four 10 x 20 images around the exact centre of a (20, 40) canvas fill one quadrant
    each, unscaled."""
    parts = [sample([[0, 0, 20, 10], [5, 2, 9, 8]], 10, 20, label_start=10 * i,
                    colour=(i, 2 * i, 3 * i)) for i in range(4)]
    results = dict(parts[0], mix_results=parts[1:])
    np.random.seed(0)
    out = Mosaic(img_scale=(20, 10), center_ratio_range=(1.0, 1.0))(results)
    img = out["img"]
    assert img.shape == (20, 40, 3) and out["img_shape"] == (20, 40)
    for i, (rows, cols) in enumerate([(slice(0, 10), slice(0, 20)), (slice(0, 10), slice(20, 40)),
                                      (slice(10, 20), slice(0, 20)), (slice(10, 20), slice(20, 40))]):
        assert (img[rows, cols] == (i, 2 * i, 3 * i)).all()
    assert out["gt_bboxes_labels"].tolist() == [0, 1, 10, 11, 20, 21, 30, 31]
    shifts = [(0, 0), (20, 0), (0, 10), (20, 10)]
    expected = [[x1 + dx, y1 + dy, x2 + dx, y2 + dy] for dx, dy in shifts
                for x1, y1, x2, y2 in ([0, 0, 20, 10], [5, 2, 9, 8])]
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), expected)
    assert_aligned(out, atol=0)


@pytest.mark.parametrize("polygons", [False, True])
def test_mosaic_keeps_masks_labels_and_boxes_aligned(polygons):
    shapes = [(30, 40), (20, 50), (40, 30), (25, 25)]
    rng = np.random.default_rng(1)
    for seed in range(6):
        parts = []
        for i, (h, w) in enumerate(shapes):
            x1, y1 = rng.integers(0, w - 6, 3), rng.integers(0, h - 6, 3)
            boxes = np.stack([x1, y1, np.minimum(x1 + rng.integers(3, 15, 3), w),
                              np.minimum(y1 + rng.integers(3, 15, 3), h)], 1)
            parts.append(sample(boxes, h, w, label_start=10 * i, polygons=polygons))
        np.random.seed(seed)
        out = Mosaic(img_scale=(32, 24))(dict(parts[0], mix_results=parts[1:]))
        assert out["img"].shape == (48, 64, 3)
        # boxes scale by the exact ratio, the image and its masks to whole-pixel sizes
        assert_aligned(out, atol=1.0)


def test_mosaic_prob_and_indexes():
    part = sample([[1, 1, 4, 4]], 8, 8)
    np.random.seed(0)
    assert Mosaic(prob=0.0)(dict(part, mix_results=[part] * 3))["img"].shape == (8, 8, 3)
    indexes = Mosaic().get_indexes(list(range(5)))
    assert len(indexes) == 3 and all(0 <= i < 5 for i in indexes)


# ---------------------------------------------------------------------------- MixUp
def test_mixup_by_hand():
    """Same-size images, no scale jitter, no flip: a 50/50 blend (truncated to uint8) and
    both images' boxes."""
    first = sample([[1, 1, 5, 5]], 12, 16, seed=1)
    other = sample([[3, 2, 9, 11], [10, 0, 16, 4]], 12, 16, label_start=5, seed=2)
    expected_img = ((first["img"].astype(np.float32) + other["img"].astype(np.float32)) / 2)
    np.random.seed(0)
    out = MixUp(img_scale=(16, 12), ratio_range=(1, 1), flip_ratio=1.0)(
        dict(first, mix_results=[other]))
    np.testing.assert_array_equal(out["img"], expected_img.astype(np.uint8))
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(),
                                  [[1, 1, 5, 5], [3, 2, 9, 11], [10, 0, 16, 4]])
    assert out["gt_bboxes_labels"].tolist() == [0, 5, 6]
    assert_aligned(out, atol=0)


@pytest.mark.parametrize("polygons", [False, True])
def test_mixup_keeps_masks_labels_and_boxes_aligned(polygons):
    first = sample([[2, 2, 10, 12], [20, 5, 30, 20]], 24, 32, polygons=polygons)
    other = sample([[0, 0, 12, 9], [14, 10, 40, 30], [30, 2, 38, 8]], 32, 40, label_start=5,
                   polygons=polygons)
    for seed in range(8):
        np.random.seed(seed)
        out = MixUp(img_scale=(32, 24), ratio_range=(0.6, 1.6), flip_ratio=0.5)(
            dict(first, mix_results=[other]))
        assert out["img"].shape == (24, 32, 3)
        assert out["gt_bboxes_labels"][:2].tolist() == [0, 1]
        # two resizes to whole-pixel sizes (fit, then jitter): up to 2 pixels apart
        assert_aligned(out, atol=2.0)


def test_mixup_with_an_empty_other_image_changes_nothing():
    first = sample([[1, 1, 5, 5]], 12, 16)
    img = first["img"].copy()
    out = MixUp()(dict(first, mix_results=[sample(np.zeros((0, 4)), 12, 16)]))
    np.testing.assert_array_equal(out["img"], img)
    assert len(out["gt_bboxes"]) == 1


def test_mixup_indexes_skip_images_without_boxes():
    dataset = [dict(gt_bboxes=np.zeros((0, 4)))] * 4 + [dict(gt_bboxes=np.ones((1, 4)))]
    np.random.seed(0)
    assert MixUp(max_iters=200).get_indexes(dataset) == 4


# ---------------------------------------------------------------------------- CopyPaste
def test_copy_paste_by_hand():
    """The pasted object covers the top half of one object (kept, box shrunk) and all of
    another (dropped)."""
    dst = sample([[0, 0, 10, 10], [20, 20, 30, 30]], 40, 40, colour=(1, 1, 1))
    src = sample([[0, 0, 10, 5]], 40, 40, label_start=7, colour=(9, 9, 9))
    src["gt_masks"].masks[0, 20:30, 20:30] = 1  # the same object also hides dst's second
    src["gt_bboxes"] = HorizontalBoxes([[0, 0, 30, 30]])
    out = CopyPaste(selected=False)(dict(dst, mix_results=[src]))
    assert out["gt_bboxes_labels"].tolist() == [0, 7]
    np.testing.assert_array_equal(out["gt_bboxes"].tensor.numpy(), [[0, 5, 10, 10], [0, 0, 30, 30]])
    assert out["gt_masks"].masks[0].sum() == 50
    pasted = src["gt_masks"].masks[0].astype(bool)
    assert (out["img"][pasted] == 9).all() and (out["img"][~pasted] == 1).all()
    assert out["img"].dtype == np.uint8


def test_copy_paste_by_box_and_random_selection():
    dst = sample([[0, 0, 10, 10]], 20, 20)
    src = sample([[12, 12, 18, 18], [2, 12, 6, 18]], 20, 20, label_start=3)
    del dst["gt_masks"], src["gt_masks"]
    np.random.seed(0)
    out = CopyPaste(paste_by_box=True, selected=False)(dict(dst, mix_results=[src]))
    assert out["gt_bboxes_labels"].tolist() == [0, 3, 4]
    assert_aligned(out, atol=0)
    counts = set()
    for seed in range(10):
        np.random.seed(seed)
        chosen = CopyPaste()(dict(sample([[0, 0, 10, 10]], 20, 20),
                                  mix_results=[sample([[12, 12, 18, 18], [2, 12, 6, 18]], 20, 20)]))
        counts.add(len(chosen["gt_bboxes"]) - 1)
        assert_aligned(chosen, atol=0)
    assert counts == {0, 1, 2}  # selected=True pastes 0 to all of the source's objects
    with pytest.warns(UserWarning, match="paste_by_box is ignored"):
        CopyPaste(paste_by_box=True)(dict(sample([[0, 0, 10, 10]], 20, 20),
                                          mix_results=[sample([[2, 2, 5, 5]], 20, 20)]))


# ---------------------------------------------------------------------------- errors
def test_mixing_errors_are_clear():
    part = sample([[1, 1, 4, 4]], 8, 8)
    with pytest.raises(ValueError, match="needs results\\['mix_results'\\] with 3 other"):
        Mosaic()(dict(part))
    with pytest.raises(ValueError, match="MixUp does not transform results\\['gt_seg_map'\\]"):
        MixUp()(dict(part, gt_seg_map=np.zeros((8, 8)), mix_results=[part]))
    no_masks = {k: v for k, v in part.items() if k != "gt_masks"}
    with pytest.raises(KeyError, match="needs results\\['gt_masks'\\].*or paste_by_box=True"):
        CopyPaste()(dict(no_masks, mix_results=[no_masks]))
    with pytest.raises(ValueError, match="both images must have the same shape"):
        CopyPaste(selected=False)(dict(part, mix_results=[sample([[1, 1, 4, 4]], 8, 9)]))
    with pytest.raises(KeyError, match="gt_masks'\\] is set in the first image but not"):
        Mosaic()(dict(part, mix_results=[part, part, no_masks]))


# ---------------------------------------------------------------------------- in the wrapper
class TinyDataset:
    """Four loaded samples, as a dataset's loading pipeline would give them."""

    metainfo = dict(classes=("a", "b"))

    def __init__(self):
        self.samples = [sample([[2, 2, 20, 18], [10, 5, 30, 25]], 32, 40, seed=i)
                        for i in range(4)]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def test_multi_image_mix_dataset_feeds_mosaic_and_mixup():
    from detdatasets.datasets.multi_image_mix import MultiImageMixDataset

    pipeline = [dict(type="Mosaic", img_scale=(32, 32)),
                dict(type="RandomAffine", border=(-16, -16)),
                dict(type="MixUp", img_scale=(32, 32)),
                dict(type="YOLOXHSVRandomAug"),
                dict(type="RandomFlip", prob=0.5),
                dict(type="FilterAnnotations", min_gt_bbox_wh=(1, 1), keep_empty=False),
                dict(type="PackDetInputs")]
    dataset = MultiImageMixDataset(TinyDataset(), pipeline)
    packed = []
    for _ in range(2):
        np.random.seed(3)
        packed.append(dataset[1])
    for item in packed:
        assert tuple(item["inputs"].shape) == (3, 32, 32)
        instances = item["data_samples"].gt_instances
        assert len(instances.bboxes) == len(instances.labels) == len(instances.masks)
    np.testing.assert_array_equal(packed[0]["inputs"].numpy(), packed[1]["inputs"].numpy())
