"""CrowdHumanDataset (odgt) and LabelmeDataset on hand-written files, expected values by hand."""

import json
import math

import cv2
import numpy as np
import pytest

from detdatasets.datasets import CrowdHumanDataset, DatasetError, LabelmeDataset
from detdatasets.datasets.writers import write_labelme

ODGT = [
    {"ID": "img1", "gtboxes": [
        {"tag": "person", "fbox": [10, 5, 20, 40], "vbox": [12, 6, 15, 30],
         "hbox": [15, 5, 8, 8], "extra": {"ignore": 0}},
        {"tag": "mask", "fbox": [0, 0, 30, 30], "vbox": [0, 0, 30, 30], "hbox": [0, 0, 1, 1]},
        {"tag": "person", "fbox": [40, 10, 10, 20], "vbox": [40, 10, 10, 20],
         "hbox": [42, 10, 5, 5], "extra": {"ignore": 1}},
    ]},
    {"ID": "img2", "gtboxes": []},
]


def make_crowdhuman(root, lines):
    (root / "Images").mkdir(exist_ok=True)
    for record in ODGT:
        cv2.imwrite(str(root / "Images" / f"{record['ID']}.jpg"), np.zeros((50, 60, 3), np.uint8))
    (root / "train.odgt").write_text("\n".join(lines) + "\n")


def test_crowdhuman_full_boxes_ignore_regions_and_sizes(tmp_path):
    make_crowdhuman(tmp_path, [json.dumps(r) for r in ODGT])
    dataset = CrowdHumanDataset(data_root=str(tmp_path), ann_file="train.odgt",
                                data_prefix=dict(img="Images/"))
    assert len(dataset) == 2 and dataset.metainfo["classes"] == ("person",)
    info = dataset.get_data_info(0)
    assert (info["width"], info["height"]) == (60, 50)
    person, crowd, ignored = info["instances"]
    assert person["bbox"] == [10, 5, 30, 45] and person["bbox_label"] == 0
    assert person["ignore_flag"] == 0
    assert person["vbox"] == [12, 6, 27, 36] and person["hbox"] == [15, 5, 23, 13]
    assert (crowd["bbox_label"], crowd["ignore_flag"]) == (-1, 1)  # tag 'mask'
    assert (ignored["bbox_label"], ignored["ignore_flag"]) == (-1, 1)  # extra.ignore = 1
    assert dataset.get_cat_ids(0) == [0]  # ignore regions carry no class
    visible = CrowdHumanDataset(data_root=str(tmp_path), ann_file="train.odgt",
                                data_prefix=dict(img="Images/"), bbox_key="vbox")
    assert visible.get_data_info(0)["instances"][0]["bbox"] == [12, 6, 27, 36]


def test_crowdhuman_sizes_from_extra_file(tmp_path):
    make_crowdhuman(tmp_path, [json.dumps(r) for r in ODGT])
    (tmp_path / "sizes.json").write_text(json.dumps({"img1": [500, 600], "img2": [50, 60]}))
    dataset = CrowdHumanDataset(data_root=str(tmp_path), ann_file="train.odgt",
                                data_prefix=dict(img="Images/"), extra_ann_file="sizes.json")
    assert (dataset.get_data_info(0)["height"], dataset.get_data_info(0)["width"]) == (500, 600)


def test_crowdhuman_malformed_line_and_bad_box(tmp_path):
    make_crowdhuman(tmp_path, [json.dumps(ODGT[0]), '{"ID": "img2", "gtboxes": [}'])
    with pytest.raises(DatasetError, match=r"train\.odgt: line 2: malformed JSON at column 28"):
        CrowdHumanDataset(ann_file=str(tmp_path / "train.odgt"),
                          data_prefix=dict(img=str(tmp_path / "Images")))
    bad = dict(ODGT[1], gtboxes=[{"tag": "person", "fbox": [5, 5, -3, 4]}])
    make_crowdhuman(tmp_path, [json.dumps(ODGT[0]), json.dumps(bad)])
    with pytest.raises(DatasetError, match=r"line 2 \(ID img2\) gtboxes\[0\]: bbox \[5, 5, 2, 9\] "
                                           r"has a non-positive size"):
        CrowdHumanDataset(ann_file=str(tmp_path / "train.odgt"),
                          data_prefix=dict(img=str(tmp_path / "Images")))


LABELME = {
    "imagePath": "../pics/x.jpg", "imageWidth": 40, "imageHeight": 30,
    "shapes": [
        {"label": "box", "points": [[30, 20], [10, 5]], "shape_type": "rectangle"},
        {"label": "blob", "points": [[2, 2], [12, 2], [7, 9]], "shape_type": "polygon"},
        {"label": "blob", "points": [[20, 15], [25, 15]], "shape_type": "circle"},
        {"label": "box", "points": [[1, 1]], "shape_type": "point"},
    ],
}


def make_labelme(root, record=LABELME):
    (root / "pics").mkdir(exist_ok=True)
    (root / "ann").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "pics" / "x.jpg"), np.zeros((30, 40, 3), np.uint8))
    (root / "ann" / "x.json").write_text(json.dumps(record))


def test_labelme_rectangles_polygons_circles(tmp_path):
    make_labelme(tmp_path)
    with pytest.warns(UserWarning, match=r"dropped shapes without a box or of other classes: "
                                         r"\{'point:box': 1\}"):
        dataset = LabelmeDataset(ann_file=str(tmp_path / "ann"))
    assert dataset.metainfo["classes"] == ("blob", "box")  # sorted labels
    info = dataset.get_data_info(0)
    assert info["img_path"] == str(tmp_path / "pics" / "x.jpg")
    rect, poly, circle = info["instances"]
    assert rect == dict(bbox=[10, 5, 30, 20], bbox_label=1, ignore_flag=0)
    assert poly["bbox"] == [2.0, 2.0, 12.0, 9.0] and poly["mask"] == [[2, 2, 12, 2, 7, 9]]
    assert np.allclose(circle["bbox"], [15, 10, 25, 20])
    xs, ys = circle["mask"][0][0::2], circle["mask"][0][1::2]
    assert np.allclose(np.hypot(np.array(xs) - 20, np.array(ys) - 15), 5)
    assert len(xs) == 32 and math.isclose(circle["mask"][0][0], 25)


def test_labelme_writer_round_trip(tmp_path):
    make_labelme(tmp_path, dict(LABELME, shapes=LABELME["shapes"][:2]))
    dataset = LabelmeDataset(ann_file=str(tmp_path / "ann"))
    records = [dataset.get_data_info(0)]
    write_labelme(tmp_path / "out", records, dataset.metainfo["classes"])
    again = LabelmeDataset(ann_file=str(tmp_path / "out"))
    assert again.get_data_info(0)["img_path"] == records[0]["img_path"]
    assert again.get_data_info(0)["instances"] == records[0]["instances"]


def test_labelme_bad_shape_names_file(tmp_path):
    bad = dict(LABELME, shapes=[{"label": "box", "points": [[30, 20]], "shape_type": "rectangle"}])
    make_labelme(tmp_path, bad)
    with pytest.raises(DatasetError, match=r"x\.json shapes\[0\]: a rectangle needs at least 2 "
                                           r"\[x, y\] points"):
        LabelmeDataset(ann_file=str(tmp_path / "ann"), metainfo=dict(classes=("box",)))
