"""Turning a layer config into a layer: ``build_conv_layer``, ``build_norm_layer``,
``build_activation_layer``, ``build_padding_layer``, ``build_upsample_layer``,
``build_dropout``.

``type`` is looked up in ``detcore.registry.MODELS`` (detmodels registers torch's layers
under MMCV's names: 'Conv2d', 'BN', 'SyncBN', 'GN', 'LN', 'ReLU', 'nearest', 'deconv',
'DCNv2'...), so a plugin that registers its own layer can use it in any config; a class
may be given as ``type`` directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from detcore.registry import MODELS


def _split_cfg(cfg, what: str) -> tuple[object, type, dict]:
    """``(type as given, layer class, remaining arguments)`` of a layer config."""
    if not isinstance(cfg, Mapping):
        raise TypeError(f"{what} must be a dict with a 'type' key, got {type(cfg).__name__}: {cfg!r}")
    if "type" not in cfg:
        raise KeyError(f"{what} must contain the key 'type', got {dict(cfg)!r}")
    args = dict(cfg)
    kind = args.pop("type")
    layer_class = kind if inspect.isclass(kind) else MODELS.get(kind)
    return kind, layer_class, args


def _accepts(layer_class: type, argument: str) -> bool:
    try:
        return argument in inspect.signature(layer_class).parameters
    except (TypeError, ValueError):
        return False


def build_conv_layer(cfg: Mapping | None, *args, **kwargs) -> nn.Module:
    """A convolution from ``cfg`` (None means ``dict(type='Conv2d')``); ``args``/``kwargs``
    are the layer's own (in_channels, out_channels, kernel_size, stride=...)."""
    _, layer_class, cfg_args = _split_cfg(cfg if cfg is not None else {"type": "Conv2d"}, "conv_cfg")
    return layer_class(*args, **kwargs, **cfg_args)


def build_padding_layer(cfg: Mapping, *args, **kwargs) -> nn.Module:
    """A padding layer: 'zero', 'reflect' or 'replicate'; ``args`` is the padding."""
    _, layer_class, cfg_args = _split_cfg(cfg, "padding cfg")
    return layer_class(*args, **kwargs, **cfg_args)


def build_activation_layer(cfg: Mapping, inplace: bool | None = None) -> nn.Module:
    """An activation layer. ``inplace`` is a default for layers that take an ``inplace``
    argument and whose cfg does not set it (ConvModule passes its own)."""
    _, layer_class, args = _split_cfg(cfg, "act_cfg")
    if inplace is not None and _accepts(layer_class, "inplace"):
        args.setdefault("inplace", inplace)
    return layer_class(**args)


def build_dropout(cfg: Mapping, default_args: Mapping | None = None) -> nn.Module:
    """A dropout layer, e.g. ``dict(type='DropPath', drop_prob=0.1)``."""
    _, layer_class, args = _split_cfg(cfg, "dropout cfg")
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    return layer_class(**args)


def build_upsample_layer(cfg: Mapping, *args, **kwargs) -> nn.Module:
    """An upsampling layer: 'nearest' and 'bilinear' give nn.Upsample in that mode,
    'deconv' a transposed convolution, 'pixel_shuffle' a PixelShufflePack."""
    kind, layer_class, cfg_args = _split_cfg(cfg, "upsample_cfg")
    if layer_class is nn.Upsample and isinstance(kind, str):
        cfg_args["mode"] = kind
    return layer_class(*args, **kwargs, **cfg_args)


def infer_abbr(layer_class: type) -> str:
    """The attribute-name stem of a norm layer: 'bn', 'gn', 'ln', 'in', or the class's
    ``_abbr_``; ``build_norm_layer`` appends the postfix ('bn1', 'gn2'...)."""
    if not inspect.isclass(layer_class):
        raise TypeError(f"norm layer type must be a class, got {type(layer_class).__name__}")
    if hasattr(layer_class, "_abbr_"):
        return layer_class._abbr_
    if issubclass(layer_class, _InstanceNorm):
        return "in"
    if issubclass(layer_class, _BatchNorm):
        return "bn"
    if issubclass(layer_class, nn.GroupNorm):
        return "gn"
    if issubclass(layer_class, nn.LayerNorm):
        return "ln"
    name = layer_class.__name__.lower()
    for word, abbr in (("batch", "bn"), ("group", "gn"), ("layer", "ln"), ("instance", "in")):
        if word in name:
            return abbr
    return "norm_layer"


def build_norm_layer(cfg: Mapping, num_features: int,
                     postfix: int | str = "") -> tuple[str, nn.Module]:
    """``(name, layer)``: a normalisation layer over ``num_features`` channels and the
    attribute name MMCV gives it (abbreviation + postfix, e.g. 'bn1'), which is what makes
    checkpoint keys match.

    cfg keys besides ``type``: ``requires_grad`` (default True) and the layer's own
    arguments (``eps`` defaults to 1e-5; GN needs ``num_groups``).
    """
    if not isinstance(postfix, (int, str)):
        raise TypeError(f"build_norm_layer: postfix must be an int or a str, got {postfix!r}")
    kind, layer_class, args = _split_cfg(cfg, "norm_cfg")
    requires_grad = args.pop("requires_grad", True)
    args.setdefault("eps", 1e-5)
    if issubclass(layer_class, nn.GroupNorm):
        if "num_groups" not in args:
            raise KeyError(f"norm_cfg {dict(cfg)!r}: GroupNorm needs 'num_groups'")
        layer = layer_class(num_channels=num_features, **args)
    else:
        layer = layer_class(num_features, **args)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return infer_abbr(layer_class) + str(postfix), layer


def is_norm(layer: nn.Module, exclude: type | tuple[type, ...] | None = None) -> bool:
    """Whether ``layer`` is a batch, instance, group or layer norm (and not of ``exclude``)."""
    if exclude is not None:
        exclude = exclude if isinstance(exclude, tuple) else (exclude,)
        if not all(inspect.isclass(e) for e in exclude):
            raise TypeError(f"is_norm: exclude must be a type or a tuple of types, got {exclude!r}")
        if isinstance(layer, exclude):
            return False
    return isinstance(layer, (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm))
