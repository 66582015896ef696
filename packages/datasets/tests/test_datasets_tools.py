"""`detcore data browse` and `detcore data convert` on a small generated dataset: drawn pixels
checked against the palette, conversions checked by reading the result back."""

import json

import cv2
import numpy as np
import pytest

from detcore.cli import main as detcore_main
from detdatasets.datasets import CocoDataset, LabelmeDataset, XMLDataset, YoloDataset
from detdatasets.datasets.mask_polygons import instance_mask_to_bitmap
from detdatasets.synthetic import SHAPE_CLASSES, generate_shapes_dataset
from detdatasets.tools.browse import draw_instances


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return generate_shapes_dataset(root, num_train=4, num_val=1, seed=1, progress=False)


def coco_of(path, img_dir):
    return CocoDataset(ann_file=str(path), data_prefix=dict(img=str(img_dir)),
                       metainfo=dict(classes=SHAPE_CLASSES))


def boxes_of(dataset):
    return [np.array([i["bbox"] for i in dataset.get_data_info(k)["instances"]], float)
            for k in range(len(dataset))]


def test_draw_instances_paints_box_outline_in_the_class_colour():
    img = np.zeros((20, 30, 3), np.uint8)
    palette = [(255, 0, 0), (0, 255, 0)]  # RGB
    drawn = draw_instances(img, [dict(bbox=[5, 10, 25, 19], bbox_label=1, ignore_flag=0)],
                           ("a", "b"), palette, draw_masks=False)
    assert tuple(drawn[18, 15]) == (0, 255, 0)  # bottom edge (y2 - 1), BGR of green
    assert tuple(drawn[14, 24]) == (0, 255, 0)  # right edge (x2 - 1)
    assert tuple(drawn[14, 15]) == (0, 0, 0)  # inside stays untouched
    masked = draw_instances(img, [dict(bbox=[0, 0, 4, 4], bbox_label=0,
                                       mask=[[0, 0, 4, 0, 4, 4, 0, 4]])], ("a", "b"), palette)
    assert masked[2, 2, 2] > 0 and masked[2, 2, 0] == 0  # red blended into the mask (BGR)


def test_browse_coco_writes_one_drawing_per_image(shapes, tmp_path, capsys):
    out = tmp_path / "drawn"
    code = detcore_main(["data", "browse", str(shapes / "annotations/instances_train.json"),
                         "--img-dir", str(shapes / "images/train"), "--out", str(out),
                         "--num", "3"])
    assert code == 0 and "wrote 3 image(s)" in capsys.readouterr().out
    drawn = sorted(out.iterdir())
    assert [p.name for p in drawn] == ["000000_000001.jpg", "000001_000002.jpg",
                                       "000002_000003.jpg"]
    original = cv2.imread(str(shapes / "images/train/000001.jpg"))
    assert cv2.imread(str(drawn[0])).shape == original.shape
    assert np.abs(cv2.imread(str(drawn[0])).astype(int) - original).max() > 100


def test_browse_a_config_without_its_pipeline(shapes, tmp_path):
    config = tmp_path / "cfg.py"
    config.write_text(
        f"train_dataloader = dict(dataset=dict(type='CocoDataset', data_root={str(shapes)!r}, "
        "ann_file='annotations/instances_train.json', data_prefix=dict(img='images/train/'), "
        f"metainfo=dict(classes={SHAPE_CLASSES!r}), pipeline=[dict(type='NotATransform')]))\n")
    assert detcore_main(["data", "browse", str(config), "--out", str(tmp_path / "o"),
                         "--num", "2"]) == 0
    assert len(list((tmp_path / "o").iterdir())) == 2


def test_browse_pipeline_needs_a_config(shapes, tmp_path, capsys):
    code = detcore_main(["data", "browse", str(shapes / "data.yaml"), "--format", "yolo",
                         "--pipeline", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--pipeline needs a config file as SOURCE" in capsys.readouterr().err


def test_convert_coco_to_yolo_to_coco_keeps_boxes(shapes, tmp_path):
    ann = shapes / "annotations/instances_train.json"
    assert detcore_main(["data", "convert", "--from", "coco", "--to", "yolo", str(ann),
                         str(tmp_path / "yolo"), "--img-dir", str(shapes / "images/train")]) == 0
    yolo = YoloDataset(ann_file=str(tmp_path / "yolo/data.yaml"), split="train")
    assert yolo.metainfo["classes"] == SHAPE_CLASSES
    assert detcore_main(["data", "convert", "--from", "yolo", "--to", "coco",
                         str(tmp_path / "yolo/data.yaml"), str(tmp_path / "back/ann.json")]) == 0
    back = coco_of(tmp_path / "back/ann.json", tmp_path / "yolo/images/train")
    original = coco_of(ann, shapes / "images/train")
    for ours, ref in zip(boxes_of(back), boxes_of(original)):
        assert np.allclose(ours, ref, atol=1e-3 * 256)


def test_convert_coco_to_yolo_segments_and_labelme_keep_masks(shapes, tmp_path):
    ann = shapes / "annotations/instances_train.json"
    detcore_main(["data", "convert", "--from", "coco", "--to", "yolo", "--segments", str(ann),
                  str(tmp_path / "yolo"), "--img-dir", str(shapes / "images/train")])
    first_line = (tmp_path / "yolo/labels/train/000001.txt").read_text().splitlines()[0]
    assert len(first_line.split()) > 7  # a polygon, not a box
    detcore_main(["data", "convert", "--from", "coco", "--to", "labelme", str(ann),
                  str(tmp_path / "lm"), "--img-dir", str(shapes / "images/train")])
    labelme = LabelmeDataset(ann_file=str(tmp_path / "lm"), metainfo=dict(classes=SHAPE_CLASSES))
    original = coco_of(ann, shapes / "images/train")
    for ours, ref in zip(boxes_of(labelme), boxes_of(original)):
        assert np.allclose(ours, ref)
    for idx in range(len(original)):
        for ours, ref in zip(labelme.get_data_info(idx)["instances"],
                             original.get_data_info(idx)["instances"]):
            assert np.array_equal(instance_mask_to_bitmap(ours["mask"], 256, 256),
                                  instance_mask_to_bitmap(ref["mask"], 256, 256))


def test_convert_coco_to_voc_copies_images(shapes, tmp_path):
    ann = shapes / "annotations/instances_train.json"
    detcore_main(["data", "convert", "--from", "coco", "--to", "voc", str(ann),
                  str(tmp_path / "voc"), "--img-dir", str(shapes / "images/train")])
    assert (tmp_path / "voc/JPEGImages/000001.jpg").read_bytes() == \
        (shapes / "images/train/000001.jpg").read_bytes()
    voc = XMLDataset(ann_file=str(tmp_path / "voc/ImageSets/Main/train.txt"),
                     data_prefix=dict(sub_data_root=str(tmp_path / "voc")),
                     metainfo=dict(classes=SHAPE_CLASSES))
    original = coco_of(ann, shapes / "images/train")
    for ours, ref in zip(boxes_of(voc), boxes_of(original)):
        assert np.array_equal(ours, ref - [0, 0, 1, 1])  # VOC's inclusive corner, read minus one


def test_convert_reports_bad_input_without_a_traceback(shapes, tmp_path, capsys):
    coco = json.loads((shapes / "annotations/instances_train.json").read_text())
    coco["annotations"][0]["category_id"] = 42
    (tmp_path / "bad.json").write_text(json.dumps(coco))
    code = detcore_main(["data", "convert", "--from", "coco", "--to", "yolo",
                         str(tmp_path / "bad.json"), str(tmp_path / "out"),
                         "--img-dir", str(shapes / "images/train")])
    assert code == 2
    assert "bad.json: annotation id 1 (annotations[0]): unknown category_id 42" in \
        capsys.readouterr().err
    code = detcore_main(["data", "convert", "--from", "coco", "--to", "yolo", "--non-strict",
                         str(tmp_path / "bad.json"), str(tmp_path / "out"),
                         "--img-dir", str(shapes / "images/train")])
    assert code == 0
