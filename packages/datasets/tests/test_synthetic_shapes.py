"""The synthetic shapes dataset: byte-identical reruns, annotations consistent with the
rendered masks (pycocotools rasterises the polygons), the generate-once marker, the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from detcore.cli import main as detcore_main
from detdatasets.datasets import CocoDataset, XMLDataset
from detdatasets.synthetic import (
    SHAPE_CLASSES,
    ShapesConfig,
    ensure_shapes_dataset,
    generate_image,
    generate_shapes_dataset,
)


def files_of(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_in_every_format(tmp_path):
    options = dict(num_train=4, num_val=2, seed=9, formats=("coco", "voc", "yolo"),
                   progress=False)
    first = files_of(generate_shapes_dataset(tmp_path / "a", **options))
    second = files_of(generate_shapes_dataset(tmp_path / "b", workers=2, **options))
    assert first.keys() == second.keys()
    assert len([k for k in first if k.startswith("images/")]) == 6
    assert {"data.yaml", "annotations/instances_train.json", "ImageSets/Main/val.txt",
            "Annotations/train/000001.xml", "labels/val/000002.txt"} <= first.keys()
    assert all(first[k] == second[k] for k in first)
    other = files_of(generate_shapes_dataset(tmp_path / "c", **dict(options, seed=10)))
    assert other["images/train/000001.jpg"] != first["images/train/000001.jpg"]


def test_an_image_does_not_depend_on_how_many_are_generated():
    cfg = ShapesConfig()
    img, instances = generate_image(cfg, 4, "train", 7)
    again, same = generate_image(cfg, 4, "train", 7)
    assert np.array_equal(img, again) and instances == same
    assert not np.array_equal(img, generate_image(cfg, 4, "val", 7)[0])


def test_boxes_equal_mask_extents_and_polygons_rasterise_back():
    cfg = ShapesConfig()
    sizes, labels = [], set()
    for index in range(12):
        img, instances = generate_image(cfg, 0, "train", index, with_bitmaps=True)
        assert img.shape == (256, 256, 3) and img.dtype == np.uint8
        assert 1 <= len(instances) <= cfg.max_objects
        covered = np.zeros(img.shape[:2], int)
        for inst in instances:
            bitmap = inst["bitmap"]
            covered += bitmap
            rows, cols = np.nonzero(bitmap)
            assert inst["bbox"] == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            assert inst["area"] == bitmap.sum() >= cfg.min_visible_pixels
            rles = mask_utils.frPyObjects(inst["mask"], 256, 256)
            raster = mask_utils.decode(mask_utils.merge(rles)).astype(bool)
            iou = (raster & bitmap).sum() / (raster | bitmap).sum()
            assert iou > 0.9
            sizes.append(max(inst["bbox"][2] - inst["bbox"][0], inst["bbox"][3] - inst["bbox"][1]))
            labels.add(inst["bbox_label"])
        assert covered.max() <= 1  # visible masks of an image never overlap (occlusion)
    assert min(sizes) < 0.15 * 256 and max(sizes) > 0.4 * 256  # a wide range of scales
    assert len(labels) >= 5


def test_coco_and_voc_outputs_read_back(tmp_path):
    root = generate_shapes_dataset(tmp_path / "s", num_train=3, num_val=1, seed=2,
                                   formats=("voc",), progress=False)
    coco = json.loads((root / "annotations/instances_train.json").read_text())
    assert [c["name"] for c in coco["categories"]] == list(SHAPE_CLASSES)
    assert [c["id"] for c in coco["categories"]] == list(range(1, 8))
    for ann in coco["annotations"]:
        rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], 256, 256))
        assert mask_utils.area(rle) == ann["area"]
        x, y, w, h = mask_utils.toBbox(rle)
        assert [x, y, w, h] == ann["bbox"]
    dataset = CocoDataset(data_root=str(root), ann_file="annotations/instances_train.json",
                          data_prefix=dict(img="images/train/"), metainfo=dict(classes=SHAPE_CLASSES))
    voc = XMLDataset(data_root=str(root), ann_file="ImageSets/Main/train.txt", img_subdir="images",
                     metainfo=dict(classes=SHAPE_CLASSES))
    for idx in range(3):
        a, b = dataset.get_data_info(idx), voc.get_data_info(idx)
        assert a["img_path"] == b["img_path"]
        assert [[x1, y1, x2 - 1, y2 - 1] for x1, y1, x2, y2 in (i["bbox"] for i in a["instances"])] \
            == [i["bbox"] for i in b["instances"]]  # VOC loses a pixel, as MMDetection reads it


def test_ensure_generates_once_and_regenerates_on_new_parameters(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    ensure_shapes_dataset(root, num_train=2, num_val=1, seed=0, progress=False)
    marker = json.loads((root / "shapes_dataset.json").read_text())
    assert marker["num_train"] == 2 and marker["seed"] == 0 and marker["formats"] == ["coco"]
    stamp = (root / "images/train/000001.jpg").stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("must not regenerate")

    import detdatasets.synthetic.shapes as shapes_module

    with monkeypatch.context() as patch:
        patch.setattr(shapes_module, "generate_shapes_dataset", refuse)
        assert ensure_shapes_dataset(root, num_train=2, num_val=1, seed=0, progress=False) == root
    assert (root / "images/train/000001.jpg").stat().st_mtime_ns == stamp
    ensure_shapes_dataset(root, num_train=3, num_val=1, seed=0, progress=False)
    assert json.loads((root / "shapes_dataset.json").read_text())["num_train"] == 3
    assert (root / "images/train/000003.jpg").exists()
    assert not list(tmp_path.glob(".shapes-*"))  # no staging folder left behind


def test_ensure_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"mine exists, is not empty and holds no "
                                              r"shapes_dataset\.json"):
        ensure_shapes_dataset(tmp_path / "mine", num_train=1, num_val=1, progress=False)


def test_cli_synth_shapes(tmp_path, capsys):
    code = detcore_main(["data", "synth", "shapes", "--out", str(tmp_path / "cli"),
                         "--num-train", "3", "--num-val", "2", "--formats", "yolo"])
    assert code == 0
    assert "shapes dataset (3 train, 2 val images) at" in capsys.readouterr().out
    assert len(list((tmp_path / "cli/images/val").iterdir())) == 2
    assert (tmp_path / "cli/labels/train/000003.txt").exists()


def test_bad_generator_parameters():
    with pytest.raises(ValueError, match=r"need 0 < min_scale <= max_scale"):
        ShapesConfig(min_scale=0.5, max_scale=0.1)
    with pytest.raises(ValueError, match=r"unknown formats \['tfrecord'\]"):
        generate_shapes_dataset("/nonexistent", formats=("tfrecord",))
