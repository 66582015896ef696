"""``detcore convert --from ultralytics``: an Ultralytics YOLOv8 or YOLOv5u detection
checkpoint mapped onto our module names.

Ultralytics numbers its layers (``model.<i>.``, the rows of the model YAML); each
architecture has a fixed table from layer index to our module and to the kind of block it
is, and each kind renames its children (C2f's ``cv1``/``cv2``/``m`` are our
``main_conv``/``final_conv``/``blocks``...). Nothing is matched by shape or by guessing: a
key that the table does not cover is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from detcore.errors import UserError

#: children renamed per kind of block (Ultralytics name -> ours)
CHILD_NAMES = {
    "conv": {},
    "c2f": {"cv1": "main_conv", "cv2": "final_conv", "m": "blocks"},
    "c3": {"cv1": "main_conv", "cv2": "short_conv", "cv3": "final_conv", "m": "blocks"},
    "sppf": {"cv1": "conv1", "cv2": "conv2"},
    "detect": {"cv2": "reg_preds", "cv3": "cls_preds", "dfl": "integral"},
}
#: children of the bottlenecks inside C2f / C3 ``blocks``
BOTTLENECK_NAMES = {"cv1": "conv1", "cv2": "conv2"}

_BACKBONE = {
    0: ("backbone.stem", "conv"),
    1: ("backbone.stage1.0", "conv"), 3: ("backbone.stage2.0", "conv"),
    5: ("backbone.stage3.0", "conv"), 7: ("backbone.stage4.0", "conv"),
    9: ("backbone.stage4.2", "sppf"),
}

#: layer index -> (our module, kind of block), per architecture
LAYER_TABLES = {
    "yolov8": {
        **_BACKBONE,
        **{i: (f"backbone.stage{(i - 2) // 2 + 1}.1", "c2f") for i in (2, 4, 6, 8)},
        12: ("neck.top_down_layers.0", "c2f"), 15: ("neck.top_down_layers.1", "c2f"),
        16: ("neck.downsample_layers.0", "conv"), 18: ("neck.bottom_up_layers.0", "c2f"),
        19: ("neck.downsample_layers.1", "conv"), 21: ("neck.bottom_up_layers.1", "c2f"),
        22: ("bbox_head.head_module", "detect"),
    },
    "yolov5u": {
        **_BACKBONE,
        **{i: (f"backbone.stage{(i - 2) // 2 + 1}.1", "c3") for i in (2, 4, 6, 8)},
        10: ("neck.reduce_layers.2", "conv"),
        13: ("neck.top_down_layers.0.0", "c3"), 14: ("neck.top_down_layers.0.1", "conv"),
        17: ("neck.top_down_layers.1", "c3"),
        18: ("neck.downsample_layers.0", "conv"), 20: ("neck.bottom_up_layers.0", "c3"),
        21: ("neck.downsample_layers.1", "conv"), 23: ("neck.bottom_up_layers.1", "c3"),
        24: ("bbox_head.head_module", "detect"),
    },
}
#: (backbone type, neck type) of our configs -> architecture
CONFIG_ARCHITECTURES = {
    ("YOLOv8CSPDarknet", "YOLOv8PAFPN"): "yolov8",
    ("YOLOv5CSPDarknet", "YOLOv5PAFPN"): "yolov5u",
}
#: the key that only a given architecture's detection layer has
_DETECT_KEYS = {"yolov8": "model.22.dfl.conv.weight", "yolov5u": "model.24.dfl.conv.weight"}

_KEY = re.compile(r"model\.(\d+)\.(.+)")


def _state_dict_of(checkpoint) -> dict[str, torch.Tensor]:
    """The weights in an Ultralytics .pt dict ('ema' preferred, else 'model', each an
    nn.Module) or in a plain state_dict."""
    if isinstance(checkpoint, torch.nn.Module):
        return {k: v.float() if v.is_floating_point() else v
                for k, v in checkpoint.state_dict().items()}
    if not isinstance(checkpoint, Mapping):
        raise UserError(f"ultralytics converter: expected a checkpoint dict or a state_dict, "
                        f"got {type(checkpoint).__name__}")
    for key in ("ema", "model"):
        if checkpoint.get(key) is not None and not isinstance(checkpoint[key], torch.Tensor):
            if not isinstance(checkpoint[key], torch.nn.Module):
                raise UserError(f"ultralytics converter: checkpoint['{key}'] is a "
                                f"{type(checkpoint[key]).__name__}, not a model")
            return _state_dict_of(checkpoint[key])
    if not any(isinstance(k, str) and k.startswith("model.") for k in checkpoint):
        raise UserError("ultralytics converter: no 'model'/'ema' entry and no 'model.<i>.' keys: "
                        "this is neither an Ultralytics checkpoint nor its state_dict")
    return dict(checkpoint)


def _architecture(state_dict: Mapping, cfg) -> str:
    found = [arch for arch, key in _DETECT_KEYS.items() if key in state_dict]
    if len(found) != 1:
        raise UserError("ultralytics converter: the checkpoint is neither a YOLOv8 (detection "
                        "layer 22) nor a YOLOv5u (detection layer 24) P5 detection model")
    arch = found[0]
    if cfg is not None:
        model = cfg["model"]
        types = (model["backbone"]["type"], model["neck"]["type"])
        expected = CONFIG_ARCHITECTURES.get(types)
        if expected is None:
            raise UserError(f"ultralytics converter: the config's model {types} has no "
                            f"Ultralytics counterpart; known: {list(CONFIG_ARCHITECTURES)}")
        if expected != arch:
            raise UserError(f"ultralytics converter: the checkpoint is a {arch} model but the "
                            f"config builds a {expected} model")
    return arch


def _rename(key: str, table: Mapping[int, tuple[str, str]]) -> str:
    match = _KEY.fullmatch(key)
    if match is None or int(match.group(1)) not in table:
        raise UserError(f"ultralytics converter: unexpected key '{key}'")
    prefix, kind = table[int(match.group(1))]
    parts = match.group(2).split(".")
    names = CHILD_NAMES[kind]
    if parts[0] in names:
        if parts[0] == "m":  # m.<j>.cv1 -> blocks.<j>.conv1
            parts[2] = BOTTLENECK_NAMES.get(parts[2], parts[2])
        parts[0] = names[parts[0]]
    return f"{prefix}.{'.'.join(parts)}"


def convert(checkpoint, cfg=None) -> dict[str, torch.Tensor]:
    """Our state_dict from an Ultralytics checkpoint (see the module docstring); ``cfg``,
    when given, must build the same architecture."""
    state_dict = _state_dict_of(checkpoint)
    table = LAYER_TABLES[_architecture(state_dict, cfg)]
    return {_rename(key, table): value for key, value in state_dict.items()}
