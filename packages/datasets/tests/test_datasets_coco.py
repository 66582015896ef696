"""CocoDataset on real files: pycocotools as the reference for boxes and masks, hand-built
bad inputs with the messages asserted."""

import json
import re
import warnings

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from detdatasets.datasets import BadRecordWarning, CocoDataset, DatasetError
from detdatasets.datasets.mask_polygons import instance_mask_to_bitmap

H, W = 40, 60
POLYGON = [[10.0, 10.0, 30.0, 10.0, 30.0, 25.0, 10.0, 25.0]]


def _rle_counts_string():
    mask = np.zeros((H, W), np.uint8, order="F")
    mask[5:15, 40:55] = 1
    rle = mask_utils.encode(mask)
    return {"size": [H, W], "counts": rle["counts"].decode()}


def coco_dict():
    """Three images; category ids 3, 7, 11 (non-contiguous); polygons, a compressed and an
    uncompressed RLE, a crowd, an image without annotations."""
    images = [dict(id=i, file_name=f"{i}.jpg", width=W, height=H) for i in (1, 2, 3)]
    images[2]["width"] = images[2]["height"] = 20  # a small image, for min_size
    annotations = [
        dict(id=1, image_id=1, category_id=7, bbox=[10, 10, 20, 15], area=300, iscrowd=0,
             segmentation=POLYGON),
        dict(id=2, image_id=1, category_id=11, bbox=[40, 5, 15, 10], area=150, iscrowd=1,
             segmentation=_rle_counts_string()),
        dict(id=3, image_id=1, category_id=3, bbox=[0.5, 1.5, 4, 6], area=24, iscrowd=0,
             segmentation={"size": [H, W], "counts": [W * 2, 5, H * W - W * 2 - 5]}),
        dict(id=4, image_id=3, category_id=3, bbox=[2, 2, 5, 5], area=25, iscrowd=0),
    ]
    categories = [dict(id=3, name="a"), dict(id=7, name="b"), dict(id=11, name="c")]
    return dict(images=images, annotations=annotations, categories=categories)


def write_dataset(root, coco):
    (root / "imgs").mkdir(exist_ok=True)
    for img in coco["images"]:
        cv2.imwrite(str(root / "imgs" / img["file_name"]),
                    np.zeros((img["height"], img["width"], 3), np.uint8))
    (root / "ann.json").write_text(json.dumps(coco))
    return root / "ann.json"


def build(root, **kwargs):
    kwargs.setdefault("metainfo", dict(classes=("a", "b", "c")))
    return CocoDataset(ann_file="ann.json", data_root=str(root), data_prefix=dict(img="imgs/"),
                       **kwargs)


def test_boxes_match_pycocotools_and_labels_follow_class_order(tmp_path):
    ann = write_dataset(tmp_path, coco_dict())
    dataset = build(tmp_path)
    ref = COCO(str(ann))
    assert len(dataset) == 3
    assert dataset.cat_ids == [3, 7, 11]
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        assert info["img_path"] == str(tmp_path / "imgs" / f"{info['img_id']}.jpg")
        anns = ref.loadAnns(ref.getAnnIds(imgIds=[info["img_id"]]))
        expected = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
        assert [inst["bbox"] for inst in info["instances"]] == expected  # xywh -> xyxy, no +1
        assert [inst["bbox_label"] for inst in info["instances"]] == [
            dataset.cat2label[a["category_id"]] for a in anns]
        assert [inst["ignore_flag"] for inst in info["instances"]] == [a["iscrowd"] for a in anns]
        assert info["sample_idx"] == idx


def test_polygon_and_rle_masks_decode_like_pycocotools(tmp_path):
    ann = write_dataset(tmp_path, coco_dict())
    ref = COCO(str(ann))
    info = build(tmp_path).get_data_info(0)
    for instance, ref_ann in zip(info["instances"], ref.loadAnns(ref.getAnnIds(imgIds=[1]))):
        ours = instance_mask_to_bitmap(instance["mask"], H, W)
        assert np.array_equal(ours, ref.annToMask(ref_ann))
        assert ours.sum() > 0


def test_class_subset_relabels_in_metainfo_order_and_drops_other_categories(tmp_path):
    write_dataset(tmp_path, coco_dict())
    dataset = build(tmp_path, metainfo=dict(classes=("c", "a")))
    assert dataset.cat_ids == [11, 3] and dataset.cat2label == {11: 0, 3: 1}
    first = dataset.get_data_info(0)
    assert [(i["bbox_label"], i["ignore_flag"]) for i in first["instances"]] == [(0, 1), (1, 0)]
    assert dataset.get_cat_ids(0) == [0, 1]
    assert dataset.metainfo["classes"] == ("c", "a")


def test_filter_empty_gt_and_min_size(tmp_path):
    write_dataset(tmp_path, coco_dict())
    assert len(build(tmp_path, filter_cfg=dict(filter_empty_gt=True))) == 2  # image 2 is empty
    assert len(build(tmp_path, filter_cfg=dict(min_size=32))) == 2  # image 3 is 20 x 20
    assert len(build(tmp_path, filter_cfg=dict(filter_empty_gt=True, min_size=32))) == 1
    assert len(build(tmp_path, filter_cfg=dict(filter_empty_gt=True), test_mode=True)) == 3
    with pytest.raises(ValueError, match="unknown filter_cfg keys \\['min_area'\\]"):
        build(tmp_path, filter_cfg=dict(min_area=3))


def test_serialised_records_equal_the_unserialised_list(tmp_path):
    write_dataset(tmp_path, coco_dict())
    packed, plain = build(tmp_path), build(tmp_path, serialize_data=False)
    assert packed.data_list == [] and packed.data_bytes.dtype == np.uint8
    assert len(packed.data_address) == len(plain.data_list) == 3
    assert [packed.get_data_info(i) for i in range(3)] == [plain.get_data_info(i) for i in range(3)]
    assert packed.get_data_info(-1) == plain.get_data_info(2)
    sub_packed, sub_plain = packed.get_subset([2, 0]), plain.get_subset([2, 0])
    assert [sub_packed.get_data_info(i)["img_id"] for i in range(2)] == [3, 1]
    assert sub_packed.get_data_info(1) == sub_plain.get_data_info(1)
    assert len(packed) == 3  # get_subset leaves the original alone


def test_default_metainfo_is_the_80_coco_classes_and_must_match_the_file(tmp_path):
    write_dataset(tmp_path, coco_dict())
    assert len(CocoDataset.METAINFO["classes"]) == 80 == len(CocoDataset.METAINFO["palette"])
    assert CocoDataset.METAINFO["classes"][:3] == ("person", "bicycle", "car")
    with pytest.raises(DatasetError, match=r"ann\.json: classes \['person', .* are not "
                                           r"categories of this file, whose categories are "
                                           r"\['a', 'b', 'c'\]"):
        CocoDataset(ann_file=str(tmp_path / "ann.json"), data_prefix=dict(img=str(tmp_path)))
    taken = CocoDataset(ann_file=str(tmp_path / "ann.json"), metainfo=dict(classes=()),
                        data_prefix=dict(img=str(tmp_path / "imgs")))
    assert taken.metainfo["classes"] == ("a", "b", "c")  # empty classes: the file's categories


# ---------------------------------------------------------------------------- bad input
def test_malformed_json_names_file_and_position(tmp_path):
    (tmp_path / "ann.json").write_text('{"images": [1, 2,, 3]}')
    with pytest.raises(DatasetError, match=r"ann\.json: malformed JSON at line 1 column 18"):
        build(tmp_path)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"annotation file not found: .*ann\.json"):
        build(tmp_path)


def _bad(tmp_path, change):
    """Images of the good dataset on disk, then the changed annotation file."""
    write_dataset(tmp_path, coco_dict())
    coco = coco_dict()
    change(coco)
    (tmp_path / "ann.json").write_text(json.dumps(coco))


BAD_CASES = {
    "missing image file": (
        lambda c: c["images"].append(dict(id=9, file_name="gone.jpg", width=W, height=H)),
        r"ann\.json: image id 9: image file not found: .*gone\.jpg"),
    "box outside the image": (
        lambda c: c["annotations"].append(dict(id=20, image_id=1, category_id=3,
                                               bbox=[70, 5, 10, 10], area=100)),
        r"ann\.json: annotation id 20 \(image id 1\): bbox \[70, 5, 80, 15\] lies outside the "
        r"60 x 40 image"),
    "non-positive width": (
        lambda c: c["annotations"].append(dict(id=21, image_id=2, category_id=3,
                                               bbox=[5, 5, 0, 10], area=0)),
        r"annotation id 21 \(image id 2\): bbox \[5, 5, 5, 15\] has a non-positive size "
        r"\(0 x 10\)"),
    "negative height": (
        lambda c: c["annotations"].append(dict(id=22, image_id=2, category_id=3,
                                               bbox=[5, 5, 3, -2], area=6)),
        r"annotation id 22 \(image id 2\): bbox .* has a non-positive size"),
    "unknown category id": (
        lambda c: c["annotations"].append(dict(id=23, image_id=2, category_id=5,
                                               bbox=[5, 5, 3, 3], area=9)),
        r"ann\.json: annotation id 23 \(annotations\[4\]\): unknown category_id 5; the file's "
        r"category ids are \[3, 7, 11\]"),
    "annotation of an unknown image": (
        lambda c: c["annotations"].append(dict(id=24, image_id=99, category_id=3,
                                               bbox=[5, 5, 3, 3], area=9)),
        r"annotation id 24 \(annotations\[4\]\): refers to image_id 99, which is not in "
        r"'images'"),
    "empty annotation list": (
        lambda c: c.update(annotations=[]),
        r"ann\.json: 'annotations': the file has no annotations; a test set without labels "
        r"needs test_mode=True"),
    "image record without file_name": (
        lambda c: c["images"].append(dict(id=8, width=W, height=H)),
        r"ann\.json: images\[3\] \(id 8\): lacks 'file_name'"),
    "malformed bbox": (
        lambda c: c["annotations"].append(dict(id=25, image_id=2, category_id=3, bbox=[1, 2],
                                               area=9)),
        r"annotation id 25 \(image id 2\): bbox must be \[x, y, w, h\], got \[1, 2\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_record_raises_naming_file_and_record(tmp_path, case):
    change, message = BAD_CASES[case]
    _bad(tmp_path, change)
    with pytest.raises(DatasetError, match=message) as info:
        build(tmp_path)
    assert "strict=False" in str(info.value)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_non_strict_skips_bad_records_with_one_counted_warning(tmp_path, case):
    change, message = BAD_CASES[case]
    _bad(tmp_path, change)
    with pytest.warns(BadRecordWarning) as record:
        dataset = build(tmp_path, strict=False)
    warned = [str(w.message) for w in record if issubclass(w.category, BadRecordWarning)]
    assert len(warned) == 1
    assert re.search(r"ann\.json: skipped 1 bad record\(s\)", warned[0])
    assert re.search(message, warned[0])
    assert len(dataset) == 3  # the good images survive
    instances = sum(len(dataset.get_data_info(i)["instances"]) for i in range(len(dataset)))
    assert instances == (0 if case == "empty annotation list" else 4)


def test_non_strict_counts_several_bad_records(tmp_path):
    def change(coco):
        for k in range(3):
            coco["annotations"].append(dict(id=30 + k, image_id=2, category_id=3,
                                            bbox=[100, 100, 5, 5], area=25))
    _bad(tmp_path, change)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build(tmp_path, strict=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, BadRecordWarning)]
    assert len(messages) == 1 and "skipped 3 bad record(s)" in messages[0]
    assert "annotation id 30" in messages[0] and "annotation id 32" in messages[0]


def test_test_mode_accepts_a_file_without_annotations(tmp_path):
    coco = coco_dict()
    del coco["annotations"]
    write_dataset(tmp_path, coco)
    dataset = build(tmp_path, test_mode=True)
    assert len(dataset) == 3 and all(not dataset.get_data_info(i)["instances"] for i in range(3))


def test_image_size_is_read_from_the_file_when_the_record_lacks_it(tmp_path):
    coco = coco_dict()
    write_dataset(tmp_path, coco)
    del coco["images"][0]["width"], coco["images"][0]["height"]
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    info = build(tmp_path).get_data_info(0)
    assert (info["width"], info["height"]) == (W, H)  # from the 60 x 40 jpg on disk
