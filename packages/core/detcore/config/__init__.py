"""detcore's config system: MMEngine-style config files.

Formats
    ``.py`` configs are EXECUTED as Python (as in MMEngine), so load only files you trust.
    Their module-level names become keys, except private names (``_tmp``) and modules,
    functions and classes. ``.json`` and ``.yaml``/``.yml`` configs are only parsed
    (``json`` / ``yaml.safe_load`` rules, plus ``!!python/tuple``): they never run code.

Inheritance
    ``_base_ = 'relative/path.py'`` or a list of paths, relative to the file that names
    them; ``'scope::path.py'`` names a file in a folder a plugin ships (hook
    ``detcore_config_roots``, e.g. ``'detyolo::yolov8/yolov8_n_coco.py'``). Bases may have
    bases, in any format. Bases merge left to right and may not share a top-level key; the
    file's own keys then merge on top: dicts key by key, everything else (lists too)
    replaced. ``_delete_=True`` inside a dict replaces the base dict instead.

Reusing base values
    ``{{_base_.model.backbone.depth}}`` is a copy of a base value (an expression in .py, a
    whole value in .json/.yaml). In .py configs ``_base_`` is also the merged base config
    itself while the file runs: ``depth = _base_.model.backbone.depth``, or
    ``_base_.visualizer.vis_backends = [...]`` to change a base value in place.
    ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}`` and
    ``{{ fileExtname }}`` are replaced by the config file's folder, name, stem and suffix.

Overrides
    ``cfg.merge_from_dict(parse_cfg_options(['model.backbone.depth=101',
    'param_scheduler.0.end=500', "img_scale=(640,640)"]))``, which is what
    ``--cfg-options`` does on the command line.

This package imports no torch: the command line reads configs at start-up.
"""

from detcore.config.config import Config
from detcore.config.config_dict import ConfigDict
from detcore.config.errors import ConfigError
from detcore.config.options import parse_cfg_options

__all__ = ["Config", "ConfigDict", "ConfigError", "parse_cfg_options"]
