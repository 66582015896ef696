"""YoloDataset: Ultralytics' own label reader (verify_image_label + xywhn2xyxy) as the
reference, the synthetic round trip, and bad label lines."""

import cv2
import numpy as np
import pytest

from detdatasets.datasets import CocoDataset, DatasetError, YoloDataset
from detdatasets.synthetic import SHAPE_CLASSES, generate_shapes_dataset

LABELS = {
    "a": "0 0.5 0.5 0.25 0.5\n2 0.1 0.2 0.1 0.2\n",
    "b": "1 0.1 0.1 0.6 0.1 0.6 0.9 0.1 0.5\n",  # a polygon
    "c": "",  # an image without objects
}


def make_yolo(root, labels=LABELS, names="[cat, dog, bird]"):
    for split_dir in ("images/train", "labels/train"):
        (root / split_dir).mkdir(parents=True, exist_ok=True)
    for stem, text in labels.items():
        cv2.imwrite(str(root / "images/train" / f"{stem}.jpg"), np.zeros((32, 48, 3), np.uint8))
        (root / "labels/train" / f"{stem}.txt").write_text(text)
    (root / "data.yaml").write_text(f"train: images/train\nval: images/train\nnames: {names}\n")
    return root / "data.yaml"


def ultralytics_boxes(img_path, label_path, num_classes):
    """Pixel xyxy boxes and classes as Ultralytics reads them."""
    from ultralytics.data.utils import verify_image_label
    from ultralytics.utils.ops import xywhn2xyxy

    _, lb, shape, *_ = verify_image_label((img_path, label_path, "", False, num_classes, 0, 0,
                                           False))
    h, w = shape
    return xywhn2xyxy(lb[:, 1:].astype(np.float64), w, h), lb[:, 0].astype(int)


@pytest.mark.peer
@pytest.mark.slow  # importing ultralytics takes seconds
def test_boxes_and_polygons_match_ultralytics_reader(tmp_path):
    dataset = YoloDataset(ann_file=str(make_yolo(tmp_path)), split="train")
    assert dataset.metainfo["classes"] == ("cat", "dog", "bird") and len(dataset) == 3
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        label_path = str(tmp_path / "labels/train" / f"{info['img_id']}.txt")
        boxes, classes = ultralytics_boxes(info["img_path"], label_path, 3)
        ours = np.array([i["bbox"] for i in info["instances"]]).reshape(-1, 4)
        assert np.allclose(ours, boxes, atol=1e-3)
        assert [i["bbox_label"] for i in info["instances"]] == classes.tolist()
    polygon = dataset.get_data_info(1)["instances"][0]["mask"]
    assert np.allclose(polygon[0], [4.8, 3.2, 28.8, 3.2, 28.8, 28.8, 4.8, 16.0])


def test_class_subset_and_dict_names(tmp_path):
    ann = make_yolo(tmp_path, names="{0: cat, 1: dog, 2: bird}")
    dataset = YoloDataset(ann_file=str(ann), metainfo=dict(classes=("bird", "cat")))
    assert [i["bbox_label"] for i in dataset.get_data_info(0)["instances"]] == [1, 0]
    assert dataset.get_data_info(1)["instances"] == []  # the dog polygon is left out
    with pytest.raises(DatasetError, match=r"classes \['horse'\] of the metainfo are not in the "
                                           r"YAML's names"):
        YoloDataset(ann_file=str(ann), metainfo=dict(classes=("horse",)))


def test_synthetic_yolo_txt_round_trip_matches_coco_boxes(tmp_path):
    root = generate_shapes_dataset(tmp_path / "shapes", num_train=6, num_val=2, seed=5,
                                   formats=("yolo",), progress=False)
    coco = CocoDataset(data_root=str(root), ann_file="annotations/instances_train.json",
                       data_prefix=dict(img="images/train/"), metainfo=dict(classes=SHAPE_CLASSES))
    yolo = YoloDataset(ann_file=str(root / "data.yaml"), split="train")
    assert len(coco) == len(yolo) == 6
    for idx in range(6):
        a, b = coco.get_data_info(idx), yolo.get_data_info(idx)
        assert a["img_path"] == b["img_path"]
        boxes_a = np.array([i["bbox"] for i in a["instances"]], dtype=float)
        boxes_b = np.array([i["bbox"] for i in b["instances"]], dtype=float)
        assert boxes_a.shape == boxes_b.shape and len(boxes_a) > 0
        assert np.allclose(boxes_b, boxes_a, rtol=1e-3, atol=1e-3 * 256)
        assert [i["bbox_label"] for i in a["instances"]] == [i["bbox_label"] for i in b["instances"]]


@pytest.mark.parametrize("line,message", [
    ("0 0.5 0.5 0.2", r"b\.txt line 1: expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 "
                      r"\.\.\.', got 4 values"),
    ("3 0.5 0.5 0.2 0.2", r"b\.txt line 1: unknown class index 3 \(the YAML names 3 classes\)"),
    ("0 5 6 0.2 0.2", r"b\.txt line 1: coordinates must be normalised to \[0, 1\]"),
    ("0 0.5 0.5 0 0.2", r"b\.txt line 1: bbox .* has a non-positive size"),
    ("x 0.5 0.5 0.2 0.2", r"b\.txt line 1: not numbers"),
])
def test_bad_label_lines_name_file_and_line(tmp_path, line, message):
    ann = make_yolo(tmp_path, labels=dict(LABELS, b=line + "\n"))
    with pytest.raises(DatasetError, match=message):
        YoloDataset(ann_file=str(ann))
    with pytest.warns(UserWarning, match=r"skipped 1 bad record"):
        assert len(YoloDataset(ann_file=str(ann), strict=False)) == 2


def test_missing_split_and_missing_image(tmp_path):
    ann = make_yolo(tmp_path)
    with pytest.raises(DatasetError, match=r"data\.yaml: has no split 'test'"):
        YoloDataset(ann_file=str(ann), split="test")
    (tmp_path / "list.txt").write_text("./images/train/a.jpg\n./images/train/gone.jpg\n")
    (tmp_path / "data.yaml").write_text("train: list.txt\nnames: [cat, dog, bird]\n")
    with pytest.raises(DatasetError, match=r"image gone: image file not found: .*gone\.jpg"):
        YoloDataset(ann_file=str(ann))
    with pytest.warns(UserWarning, match="skipped 1 bad record"):
        assert len(YoloDataset(ann_file=str(ann), strict=False)) == 1
