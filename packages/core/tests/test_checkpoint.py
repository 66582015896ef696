"""Safe checkpoint files and `detcore convert`."""

import types

import pytest
import torch

from detcore import cli, hookimpl, plugins
from detcore.checkpoint import CheckpointError, load_checkpoint_file, save_checkpoint_file


class PickledThing:  # a custom class: torch.load(weights_only=True) must refuse it
    def __init__(self):
        self.w = torch.ones(2)


def test_round_trip_of_plain_tensors(tmp_path):
    state = {"a": torch.arange(4.0), "meta": {"epoch": 3, "names": ["x"]}}
    path = save_checkpoint_file(state, tmp_path / "sub" / "ckpt.pth")
    loaded = load_checkpoint_file(path)
    assert torch.equal(loaded["a"], state["a"]) and loaded["meta"] == state["meta"]


def test_pickled_objects_need_an_explicit_opt_in(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"model": PickledThing()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert str(path) in message and "weights_only=True" in message and "--trust-checkpoint" in message
    assert torch.equal(load_checkpoint_file(path, trust_pickle=True)["model"].w, torch.ones(2))


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    path = tmp_path / "cut.pth"
    save_checkpoint_file({"a": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=f"{path} is not a readable torch checkpoint"):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nothing.pth"):
        load_checkpoint_file(tmp_path / "nothing.pth")


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    save_checkpoint_file({"step": torch.tensor(1)}, path)

    def crash(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt  # the process is stopped mid-write

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint_file({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert int(load_checkpoint_file(path)["step"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]  # no temp file left behind


def test_convert_command_uses_the_registered_converter(tmp_path, capsys):
    def rename(checkpoint, cfg):
        return {k.replace("body.", "backbone."): v for k, v in checkpoint["model"].items()}

    plugin = types.SimpleNamespace(detcore_register_converters=hookimpl(
        lambda converters: converters.register_module(name="toylib", module=rename)))
    src, dst = tmp_path / "peer.pt", tmp_path / "ours.pth"
    torch.save({"model": {"body.conv.weight": torch.randn(2, 3)}}, src)
    plugins.register_plugin(plugin, name="test-converter", distribution="dist-conv")
    try:
        assert cli.main(["convert", "--from", "toylib", str(src), str(dst)]) == 0
        assert cli.main(["convert", "--from", "toylb", str(src), str(dst)]) == 2
    finally:
        plugins.unregister_plugin("test-converter")
    out = load_checkpoint_file(dst)
    assert list(out["state_dict"]) == ["backbone.conv.weight"]
    assert torch.equal(out["state_dict"]["backbone.conv.weight"],
                       torch.load(src)["model"]["body.conv.weight"])
    assert out["meta"]["converted_from"] == "toylib"
    err = capsys.readouterr().err
    assert "detcore convert: error: CONVERTERS has no component named 'toylb'." in err
    assert "Closest names: toylib (dist-conv)" in err
