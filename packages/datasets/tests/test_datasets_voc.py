"""VOCDataset / XMLDataset on hand-written Pascal VOC files (expected values by hand:
MMDetection reads VOC's 1-based boxes minus one and marks difficult objects ignored)."""

import cv2
import numpy as np
import pytest

from detdatasets.datasets import DatasetError, VOCDataset, XMLDataset
from detdatasets.datasets.writers import voc_xml

XML = """<annotation>
  <filename>{img_id}.jpg</filename>
  <size><width>50</width><height>40</height><depth>3</depth></size>
  <object><name>dog</name><difficult>0</difficult>
    <bndbox><xmin>11</xmin><ymin>6</ymin><xmax>30</xmax><ymax>25</ymax></bndbox></object>
  <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10.7</xmax><ymax>40</ymax></bndbox></object>
  <object><name>unicorn</name><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
</annotation>
"""


def make_voc(root, ids=("000001", "000002"), xml=XML, year="VOC2007"):
    sub = root / year
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (sub / folder).mkdir(parents=True, exist_ok=True)
    for img_id in ids:
        (sub / "Annotations" / f"{img_id}.xml").write_text(xml.format(img_id=img_id))
        cv2.imwrite(str(sub / "JPEGImages" / f"{img_id}.jpg"), np.zeros((40, 50, 3), np.uint8))
    (sub / "ImageSets/Main/trainval.txt").write_text("\n".join(ids) + "\n")
    return sub


def build(root, year="VOC2007", **kwargs):
    return VOCDataset(data_root=str(root), ann_file=f"{year}/ImageSets/Main/trainval.txt",
                      data_prefix=dict(sub_data_root=f"{year}/"), **kwargs)


def test_voc_boxes_minus_one_difficult_ignored_unknown_names_dropped(tmp_path):
    make_voc(tmp_path)
    with pytest.warns(UserWarning, match=r"dropped objects whose names are not among the "
                                         r"dataset's classes: \{'unicorn': 2\}"):
        dataset = build(tmp_path)
    assert len(dataset) == 2 and len(dataset.metainfo["classes"]) == 20
    assert dataset.metainfo["dataset_type"] == "VOC2007"
    info = dataset.get_data_info(0)
    assert info["img_id"] == "000001" and (info["width"], info["height"]) == (50, 40)
    assert info["img_path"] == str(tmp_path / "VOC2007" / "JPEGImages" / "000001.jpg")
    assert info["instances"] == [
        dict(bbox=[10, 5, 29, 24], bbox_label=11, ignore_flag=0),   # dog is VOC class 11
        dict(bbox=[0, 0, 9, 39], bbox_label=14, ignore_flag=1),     # int(10.7) - 1 = 9
    ]
    assert dataset.get_cat_ids(1) == [11, 14]


def test_voc2012_type_and_bbox_min_size(tmp_path):
    make_voc(tmp_path, year="VOC2012")
    with pytest.warns(UserWarning):
        dataset = build(tmp_path, year="VOC2012", bbox_min_size=15)
    assert dataset.metainfo["dataset_type"] == "VOC2012"
    assert [i["ignore_flag"] for i in dataset.get_data_info(0)["instances"]] == [0, 1]


def test_missing_xml_and_malformed_xml_name_the_file(tmp_path):
    sub = make_voc(tmp_path)
    (sub / "Annotations" / "000002.xml").unlink()
    with pytest.raises(
            DatasetError, match=r"trainval\.txt: image id 000002: annotation file not found: "
                                r".*000002\.xml"):
        build(tmp_path)
    (sub / "Annotations" / "000002.xml").write_text("<annotation><object>")
    with pytest.raises(DatasetError, match=r"000002\.xml: malformed XML"):
        build(tmp_path)


def test_box_outside_the_image_is_rejected_or_skipped(tmp_path):
    make_voc(tmp_path, xml=XML.replace("<xmin>11</xmin>", "<xmin>70</xmin>")
             .replace("<xmax>30</xmax>", "<xmax>80</xmax>"))
    with pytest.raises(
            DatasetError, match=r"000001\.xml object 0: bbox \[69, 5, 79, 24\] lies outside the "
                                r"50 x 40 image"):
        build(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 2 bad record\(s\)"):
        assert len(build(tmp_path, strict=False)) == 0


def test_xml_dataset_needs_classes_and_writer_round_trip(tmp_path):
    with pytest.raises(DatasetError, match="metainfo has no 'classes'"):
        XMLDataset(ann_file=str(tmp_path / "x.txt"))
    sub = make_voc(tmp_path, ids=("a",))
    record = dict(img_path=str(sub / "JPEGImages/a.jpg"), height=40, width=50,
                  instances=[dict(bbox=[3, 4, 20, 30], bbox_label=1, ignore_flag=1)])
    (sub / "Annotations" / "a.xml").write_text(voc_xml(record, ("cat", "dog")))
    dataset = XMLDataset(ann_file=str(sub / "ImageSets/Main/trainval.txt"),
                         data_prefix=dict(sub_data_root=str(sub)),
                         metainfo=dict(classes=("cat", "dog")))
    # written as 1-based inclusive pixels, read back minus one: x2, y2 lose one pixel
    assert dataset.get_data_info(0)["instances"] == [
        dict(bbox=[3, 4, 19, 29], bbox_label=1, ignore_flag=1)]
