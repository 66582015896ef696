"""Checkpoint files: atomic writes, safe loading, key mapping and load reports."""

import collections
import os

import pytest
import torch
from torch import nn

import detcore.checkpoint
from detcore.checkpoint import CheckpointError
from detengine.checkpoint import (
    find_latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)


def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "epoch_1.pth"
    save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def dying_save(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(detcore.checkpoint.torch, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert os.listdir(tmp_path) == ["epoch_1.pth"]  # no temporary file left behind


class Pickled:
    """A custom class: torch.save pickles it, weights_only loading must refuse it."""

    def __init__(self):
        self.value = 3


def test_checkpoint_with_pickled_class_is_refused_unless_trusted(tmp_path):
    path = tmp_path / "custom.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "extra": Pickled()}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert str(path) in message and "weights_only=True" in message
    assert "--trust-checkpoint" in message
    trusted = load_checkpoint(path, trust_checkpoint=True)
    assert trusted["extra"].value == 3


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "cut.pth"
    save_checkpoint({"w": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match=f"{path} is not a readable torch checkpoint"):
        load_checkpoint(path)


def test_load_weights_maps_keys_and_reports_what_did_not_fit():
    model = nn.Sequential(collections.OrderedDict(conv=nn.Conv2d(3, 4, 1), fc=nn.Linear(4, 2)))
    state = {"module.conv.weight": torch.full((4, 3, 1, 1), 2.0),  # DDP prefix, mapped away
             "module.fc.weight": torch.ones(5, 4),  # wrong shape: skipped
             "module.head.bias": torch.zeros(2)}  # not in the model
    report = load_weights(model, state, source="ckpt.pth")
    assert torch.equal(model.conv.weight, torch.full((4, 3, 1, 1), 2.0))
    assert report.loaded == 1
    assert sorted(report.missing) == ["conv.bias", "fc.bias"]
    assert report.unexpected == ["head.bias"]
    assert report.shape_mismatch == [("fc.weight", (5, 4), (2, 4))]
    text = str(report)
    assert "loaded 1 tensors from ckpt.pth" in text
    assert "missing in the checkpoint (kept as initialised): 2: conv.bias, fc.bias" in text
    assert "shape mismatch (not loaded): 1: fc.weight (5, 4) vs model (2, 4)" in text
    with pytest.raises(CheckpointError, match="do not fit the model exactly"):
        load_weights(model, state, strict=True)


def test_custom_key_rules_rename_before_loading():
    model = nn.Linear(2, 2)
    state = {"backbone.weight": torch.eye(2), "backbone.bias": torch.ones(2)}
    report = load_weights(model, state, rules=[(r"^backbone\.", "")])
    assert report.clean and torch.equal(model.weight, torch.eye(2))


def test_find_latest_checkpoint_prefers_the_pointer_then_the_highest_number(tmp_path):
    assert find_latest_checkpoint(tmp_path) is None
    for n in (2, 10):
        save_checkpoint({}, tmp_path / f"epoch_{n}.pth")
    assert find_latest_checkpoint(tmp_path) == tmp_path / "epoch_10.pth"
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "epoch_2.pth"))
    assert find_latest_checkpoint(tmp_path) == tmp_path / "epoch_2.pth"
