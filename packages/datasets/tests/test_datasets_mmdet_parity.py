"""Parity with MMDetection 3.3.0 / MMEngine 0.10.7 / mmcv 2.2 themselves (skipped where they are
not installed): the same files give the same records, the same seeds the same indices,
the same images the same pixels."""

import json

import cv2
import numpy as np
import pytest

from detdatasets import io as dio
from detdatasets.datasets import ClassBalancedDataset, CocoDataset, CrowdHumanDataset, VOCDataset
from detdatasets.samplers import (
    AspectRatioBatchSampler,
    ClassAwareSampler,
    DefaultSampler,
    InfiniteSampler,
)

pytestmark = pytest.mark.peer

RECORD_KEYS = ("img_path", "img_id", "height", "width", "instances")


def coco_file(root):
    """Non-contiguous category ids, crowd, polygons and RLE, an ``ignore`` annotation, a
    sub-pixel box (both skip those two), an empty image, two image sizes."""
    (root / "imgs").mkdir()
    sizes = {1: (40, 60), 2: (30, 30), 3: (60, 20), 4: (40, 60)}
    for img_id, (h, w) in sizes.items():
        cv2.imwrite(str(root / "imgs" / f"{img_id}.jpg"), np.zeros((h, w, 3), np.uint8))
    rle = dict(size=[40, 60], counts=[120, 5, 2275])
    anns = [
        dict(id=1, image_id=1, category_id=5, bbox=[1, 2, 10, 12], area=100, iscrowd=0,
             segmentation=[[1, 2, 11, 2, 11, 14]]),
        dict(id=2, image_id=1, category_id=9, bbox=[20, 5, 15, 10], area=150, iscrowd=1,
             segmentation=rle),
        dict(id=3, image_id=1, category_id=2, bbox=[5, 5, 0.5, 9], area=4, iscrowd=0),
        dict(id=4, image_id=3, category_id=9, bbox=[2, 2, 10, 30], area=300, iscrowd=0,
             ignore=True),
        dict(id=5, image_id=3, category_id=2, bbox=[0, 10, 15, 45], area=500, iscrowd=0),
        dict(id=6, image_id=4, category_id=5, bbox=[30, 20, 20, 10], area=200, iscrowd=0),
    ]
    coco = dict(images=[dict(id=i, file_name=f"{i}.jpg", height=h, width=w)
                        for i, (h, w) in sizes.items()],
                annotations=anns,
                categories=[dict(id=2, name="a"), dict(id=5, name="b"), dict(id=9, name="c")])
    (root / "ann.json").write_text(json.dumps(coco))


def records(dataset):
    return [{k: dataset.get_data_info(i)[k] for k in RECORD_KEYS} for i in range(len(dataset))]


@pytest.mark.parametrize("filter_cfg", [None, dict(filter_empty_gt=True, min_size=25)])
def test_coco_records_equal_mmdet(mmdet, tmp_path, filter_cfg):
    from mmdet.datasets import CocoDataset as MMDetCoco

    coco_file(tmp_path)
    common = dict(data_root=str(tmp_path), ann_file="ann.json", data_prefix=dict(img="imgs/"),
                  metainfo=dict(classes=("a", "b", "c")), filter_cfg=filter_cfg)
    ours, ref = CocoDataset(**common), MMDetCoco(**common)
    assert records(ours) == records(ref) and len(ours) == (4 if filter_cfg is None else 2)
    assert ours.cat_ids == ref.cat_ids and ours.cat2label == ref.cat2label
    assert [ours.get_cat_ids(i) for i in range(len(ours))] == [
        ref.get_cat_ids(i) for i in range(len(ref))]


def test_class_balanced_repeat_indices_equal_mmengine(mmdet, tmp_path):
    from mmdet.datasets import CocoDataset as MMDetCoco
    from mmengine.dataset import ClassBalancedDataset as MMEngineBalanced

    coco_file(tmp_path)
    common = dict(data_root=str(tmp_path), ann_file="ann.json", data_prefix=dict(img="imgs/"),
                  metainfo=dict(classes=("a", "b", "c")))
    for thr in (0.1, 0.4, 0.9):
        ours = ClassBalancedDataset(CocoDataset(**common), oversample_thr=thr)
        ref = MMEngineBalanced(MMDetCoco(**common), oversample_thr=thr)
        assert ours.repeat_indices == ref.repeat_indices


def test_voc_records_equal_mmdet(mmdet, tmp_path):
    from mmdet.datasets import VOCDataset as MMDetVOC

    sub = tmp_path / "VOC2007"
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (sub / folder).mkdir(parents=True)
    objects = [("dog", 0, (11, 6, 30, 25)), ("person", 1, (1, 1, 10, 40)),
               ("unicorn", 0, (2, 2, 5, 5)), ("car", 0, (3.7, 4.2, 20.9, 30.5))]
    xml = "<annotation><size><width>50</width><height>40</height></size>" + "".join(
        f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for n, d, b in objects) + "</annotation>"
    for img_id in ("a", "b"):
        (sub / "Annotations" / f"{img_id}.xml").write_text(xml)
        cv2.imwrite(str(sub / "JPEGImages" / f"{img_id}.jpg"), np.zeros((40, 50, 3), np.uint8))
    (sub / "ImageSets/Main/test.txt").write_text("a\nb\n")
    common = dict(data_root=str(tmp_path), ann_file="VOC2007/ImageSets/Main/test.txt",
                  data_prefix=dict(sub_data_root="VOC2007/"))
    with pytest.warns(UserWarning, match="unicorn"):
        ours = VOCDataset(**common)
    ref = MMDetVOC(**common)
    assert records(ours) == records(ref)
    assert ours.metainfo["dataset_type"] == ref.metainfo["dataset_type"] == "VOC2007"


def test_crowdhuman_records_equal_mmdet(mmdet, tmp_path):
    from mmdet.datasets import CrowdHumanDataset as MMDetCrowdHuman

    (tmp_path / "Images").mkdir()
    cv2.imwrite(str(tmp_path / "Images" / "x.jpg"), np.zeros((50, 60, 3), np.uint8))
    boxes = [{"tag": "person", "fbox": [1, 2, 20, 30], "vbox": [2, 3, 10, 10],
              "hbox": [3, 2, 5, 5], "extra": {"ignore": 0}},
             {"tag": "mask", "fbox": [0, 0, 9, 9], "vbox": [0, 0, 9, 9], "hbox": [0, 0, 2, 2]},
             {"tag": "person", "fbox": [30, 2, 20, 30], "vbox": [30, 3, 10, 10],
              "hbox": [33, 2, 5, 5], "extra": {"ignore": 1}}]
    (tmp_path / "train.odgt").write_text(json.dumps({"ID": "x", "gtboxes": boxes}) + "\n")
    common = dict(data_root=str(tmp_path), ann_file="train.odgt", data_prefix=dict(img="Images/"))
    ours, ref = CrowdHumanDataset(**common), MMDetCrowdHuman(**common)
    assert records(ours) == records(ref)


def test_samplers_equal_mmengine_and_mmdet(mmdet):
    from mmdet.datasets.samplers import AspectRatioBatchSampler as MMDetAspect
    from mmdet.datasets.samplers import ClassAwareSampler as MMDetClassAware
    from mmengine.dataset import DefaultSampler as MMEngineDefault
    from mmengine.dataset import InfiniteSampler as MMEngineInfinite

    class Toy:
        metainfo = dict(classes=("a", "b", "c", "d"))
        labels = [[0], [1, 2], [0], [2], [0, 0], [], [1], [0], [2, 0], [0]]

        def __len__(self):
            return len(self.labels)

        def get_cat_ids(self, idx):
            return self.labels[idx]

        def get_data_info(self, idx):
            return dict(width=10 + 5 * (idx % 3), height=15)

    toy = Toy()
    for shuffle in (True, False):
        ours, ref = DefaultSampler(toy, shuffle, seed=5), MMEngineDefault(toy, shuffle, seed=5)
        ours.set_epoch(2)
        ref.set_epoch(2)
        assert list(ours) == list(ref)
        inf_ours, inf_ref = iter(InfiniteSampler(toy, shuffle, 5)), iter(MMEngineInfinite(toy, shuffle, 5))
        assert [next(inf_ours) for _ in range(25)] == [next(inf_ref) for _ in range(25)]
    for num in (1, 2):
        ours, ref = ClassAwareSampler(toy, seed=3, num_sample_class=num), MMDetClassAware(
            toy, seed=3, num_sample_class=num)
        ours.set_epoch(1)
        ref.set_epoch(1)
        assert list(ours) == list(ref)
    for drop_last in (False, True):
        sampler = DefaultSampler(toy, shuffle=True, seed=1)
        sampler.dataset = toy
        batches = list(AspectRatioBatchSampler(sampler, 3, drop_last=drop_last))
        ref_batches = list(MMDetAspect(sampler, 3, drop_last=drop_last))
        if drop_last:  # MMDetection also drops a full last batch of leftovers; we keep it
            assert batches[:len(ref_batches)] == ref_batches
        else:
            assert batches == ref_batches


def test_image_operations_equal_mmcv(mmdet):
    import mmcv

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (31, 47, 3), dtype=np.uint8)
    assert np.array_equal(dio.imrescale(img, (100, 40)), mmcv.imrescale(img, (100, 40)))
    assert dio.rescale_size((47, 31), 1.7) == mmcv.rescale_size((47, 31), 1.7)
    assert np.array_equal(dio.imresize(img, (20, 9), interpolation="area"),
                          mmcv.imresize(img, (20, 9), interpolation="area"))
    assert np.array_equal(dio.imresize_to_multiple(img, 8, scale_factor=1.3),
                          mmcv.imresize_to_multiple(img, 8, scale_factor=1.3))
    for mode in ("constant", "edge", "reflect", "symmetric"):
        assert np.array_equal(
            dio.impad(img, padding=(2, 3, 4, 5), pad_val=(7, 8, 9), padding_mode=mode),
            mmcv.impad(img, padding=(2, 3, 4, 5), pad_val=(7, 8, 9), padding_mode=mode))
    # a scalar pad_val: mmcv hands it to OpenCV, which fills only the first channel; ours
    # fills every channel (what MMDetection's Pad transform does by expanding it first)
    assert (dio.impad(img, padding=1, pad_val=7)[0, 0] == 7).all()
    assert mmcv.impad(img, padding=1, pad_val=7)[0, 0].tolist() == [7, 0, 0]
    assert np.array_equal(dio.impad_to_multiple(img, 16), mmcv.impad_to_multiple(img, 16))
    for kwargs in (dict(angle=30), dict(angle=-75, auto_bound=True), dict(angle=10, scale=1.3)):
        assert np.array_equal(dio.imrotate(img, **kwargs), mmcv.imrotate(img, **kwargs))
    assert np.array_equal(dio.imshear(img, 0.3, "vertical"), mmcv.imshear(img, 0.3, "vertical"))
    assert np.array_equal(dio.imtranslate(img, -6, "horizontal", 9),
                          mmcv.imtranslate(img, -6, "horizontal", 9))
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    assert np.allclose(dio.imnormalize(img, np.array(mean), np.array(std)),
                       mmcv.imnormalize(img, np.array(mean), np.array(std)))
    for name in ("adjust_brightness", "adjust_contrast", "adjust_color", "adjust_sharpness"):
        assert np.array_equal(getattr(dio, name)(img, 0.6), getattr(mmcv, name)(img, 0.6)), name
    assert np.array_equal(dio.imequalize(img), mmcv.imequalize(img))
    assert np.array_equal(dio.auto_contrast(img, 5), mmcv.auto_contrast(img, 5))
    assert np.array_equal(dio.posterize(img, 3), mmcv.posterize(img, 3))
    assert np.array_equal(dio.solarize(img, 90), mmcv.solarize(img, 90))
