"""Drawing predictions, and DetInferencer / `detcore infer` on toy images."""

import json

import cv2
import engine_toys
import numpy as np
import pytest
import torch

from detcore.cli import main
from detcore.registry import DATASETS
from detengine.checkpoint import save_checkpoint
from detengine.inferencer import DetInferencer
from detengine.visualizer import DetLocalVisualizer, class_palette


def test_boxes_take_the_class_colour_and_low_scores_are_not_drawn():
    visualizer = DetLocalVisualizer(line_width=1)
    visualizer.dataset_meta = {"classes": ["cat", "dog"], "palette": [(255, 0, 0), (0, 0, 255)]}
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    drawn = visualizer.draw_instances(image, {
        "bboxes": torch.tensor([[30.0, 20.0, 50.0, 35.0], [2.0, 25.0, 12.0, 35.0]]),
        "labels": torch.tensor([1, 0]), "scores": torch.tensor([0.8, 0.2])}, score_thr=0.5)
    assert tuple(drawn[35, 40]) == (0, 0, 255)  # bottom edge of the dog box, in its colour
    assert tuple(drawn[35, 5]) == (0, 0, 0)  # the cat scored below the threshold
    assert image.sum() == 0  # the input is not modified


def test_masks_blend_with_alpha():
    visualizer = DetLocalVisualizer(alpha=0.25)
    image = np.full((4, 4, 3), 100, dtype=np.uint8)
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2] = True
    masks[1, 1:3] = True  # overlaps row 1: the later mask is on top
    drawn = visualizer.draw_instances(image, {"masks": masks, "labels": np.array([0, 1])})
    red, green = class_palette(2)
    assert tuple(drawn[0, 0]) == tuple(round(0.75 * 100 + 0.25 * c) for c in red)
    assert tuple(drawn[1, 0]) == tuple(round(0.75 * 100 + 0.25 * c) for c in green)
    assert tuple(drawn[3, 3]) == (100, 100, 100)


def test_palette_is_stable_and_distinct():
    colours = class_palette(80)
    assert colours == class_palette(80) and len(set(colours)) == 80


def test_bad_image_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expects an \(H, W, 3\) RGB image, got shape \(4, 4\)"):
        DetLocalVisualizer().draw_instances(np.zeros((4, 4), np.uint8), {})


@pytest.fixture
def toy_detector(tmp_path):
    engine_toys.register_detection_toys()
    images = tmp_path / "images"
    images.mkdir()
    for name, (h, w) in {"a": (20, 30), "b": (16, 16)}.items():
        cv2.imwrite(str(images / f"{name}.png"), np.full((h, w, 3), 50, dtype=np.uint8))
    checkpoint = tmp_path / "det.pth"
    save_checkpoint({"state_dict": {"scale": torch.ones(1)},
                     "meta": {"dataset_meta": {"classes": ["cat", "dog"]}}}, checkpoint)
    return images, checkpoint


def test_inferencer_predicts_writes_json_and_drawings(toy_detector, tmp_path):
    images, checkpoint = toy_detector
    inferencer = DetInferencer(engine_toys.detection_cfg(), checkpoint, device="cpu",
                               show_progress=False)
    result = inferencer(images, out_dir=tmp_path / "out", pred_score_thr=0.5)
    assert result["predictions"][0] == {"bboxes": [[1.0, 1.0, 28.0, 18.0], [0.0, 0.0, 2.0, 2.0]],
                                        "labels": [1, 0], "scores": pytest.approx([0.9, 0.1])}
    assert json.loads((tmp_path / "out" / "preds" / "b.json").read_text())["bboxes"][0] == \
        [1.0, 1.0, 14.0, 14.0]
    drawn = cv2.imread(str(tmp_path / "out" / "vis" / "a.jpg"))
    assert drawn.shape == (20, 30, 3)
    array_result = inferencer(np.full((10, 12, 3), 50, np.uint8), draw=False)
    assert array_result["predictions"][0]["bboxes"][0] == [1.0, 1.0, 10.0, 8.0]
    assert array_result["visualization"] == []


def test_infer_command(toy_detector, tmp_path):
    images, checkpoint = toy_detector
    config = tmp_path / "det_config.py"
    config.write_text("\n".join(f"{k} = {v!r}" for k, v in engine_toys.detection_cfg().items()))
    assert main(["infer", str(config), str(checkpoint), str(images / "a.png"), "--out",
                 str(tmp_path / "cli_out"), "--device", "cpu"]) == 0
    assert (tmp_path / "cli_out" / "preds" / "a.json").is_file()
    assert (tmp_path / "cli_out" / "vis" / "a.jpg").is_file()
    assert main(["infer", str(config), str(checkpoint), str(tmp_path / "missing.png"), "--out",
                 str(tmp_path / "x")]) == 2


def test_test_command_show_dir_draws_every_test_image(toy_detector, tmp_path):
    images, checkpoint = toy_detector
    DATASETS.register_module(module=engine_toys.EngineToyImageDataset, force=True)
    cfg = {"model": {"type": "EngineToyDetector"},
           "test_dataloader": {"dataset": {"type": "EngineToyImageDataset", "folder": str(images)},
                               "batch_size": 2, "sampler": {"type": "EngineToySampler", "shuffle": False}},
           "test_cfg": {"type": "TestLoop"},
           "test_evaluator": {"type": "DumpDetResults", "out_file_path": str(tmp_path / "d.pkl")},
           "progress": False}
    config = tmp_path / "show_config.py"
    config.write_text("\n".join(f"{k} = {v!r}" for k, v in cfg.items()))
    assert main(["test", str(config), str(checkpoint), "--work-dir", str(tmp_path / "w"),
                 "--show-dir", str(tmp_path / "shown")]) == 0
    assert sorted(p.name for p in (tmp_path / "shown").iterdir()) == ["a.png", "b.png"]
    drawn = cv2.imread(str(tmp_path / "shown" / "a.png"))[..., ::-1]
    assert drawn.shape == (20, 30, 3)
    assert tuple(drawn[18, 10]) == tuple(class_palette(2)[1])  # dog box edge (no palette in meta)
    import pickle

    dumped = pickle.loads((tmp_path / "d.pkl").read_bytes())
    assert [d["img_id"] for d in dumped] == [0, 1] and dumped[0]["labels"].tolist() == [1, 0]
