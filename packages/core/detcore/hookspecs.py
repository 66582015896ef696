"""The hooks that plugins implement: the whole contract between detcore and its plugins.

A plugin is a plain module named by an entry point in the group ``detcore.plugins``.
It implements any of the functions below, decorated with ``detcore.hookimpl``. detcore's
own packages (detmodels, detyolo, ...) are plugins of exactly this kind.

Plugin modules are imported when the command line starts, so they must stay cheap to
import: import torch and model code inside the hook bodies, not at module level.
"""

import pluggy

hookspec = pluggy.HookspecMarker("detcore")


@hookspec
def detcore_register_components(registries):
    """Register the plugin's components into the registries.

    Called once, the first time any registry is looked up (not at start-up).

    :param registries: a namespace with one attribute per registry (``MODELS``,
        ``TASK_UTILS``, ``DATASETS``, ``DATA_SAMPLERS``, ``TRANSFORMS``, ``METRICS``, ``HOOKS``,
        ``OPTIMIZERS``, ``OPTIM_WRAPPERS``, ``PARAM_SCHEDULERS``, ``LOOPS``,
        ``VISUALIZERS``, ``CONVERTERS``, ``FUNCTIONS``). Register a class with
        ``registries.MODELS.register_module(module=MyBackbone)``, or without importing it
        with ``registries.MODELS.register_lazy({'MyBackbone': 'mypkg.backbones'})``.
        Everything registered during this call is recorded as provided by the plugin's
        distribution.
    """


@hookspec
def detcore_register_converters(converters):
    """Register checkpoint converters for ``detcore convert --from NAME``.

    Called together with ``detcore_register_components``.

    :param converters: the ``CONVERTERS`` registry. A converter is registered under the
        name of the source it reads (``'torchvision'``, ``'ultralytics'``, ``'mmdet'``) and
        is a callable ``convert(checkpoint, cfg) -> state_dict``: ``checkpoint`` is what the
        source file holds (the peer's checkpoint dict or a plain state_dict), ``cfg`` the
        target model's config (or None) for converters that need the architecture.
    """


@hookspec
def detcore_config_roots():
    """Return folders of config files that the plugin ships.

    Called when a config path of the form ``scope::relative/path.py`` is resolved.

    :return: a dict mapping a scope (by convention the distribution name, e.g.
        ``'detyolo'``) to a folder; ``detyolo::yolov8/yolov8_n_coco.py`` then means
        ``<folder>/yolov8/yolov8_n_coco.py``.
    """


@hookspec
def detcore_add_cli_commands(subparsers):
    """Add sub-commands to the ``detcore`` command line.

    Called when the command line starts, so keep it cheap: import heavy modules inside
    the command's handler, not here.

    :param subparsers: the ``argparse`` sub-parser action of ``detcore``. Add a command
        with ``p = subparsers.add_parser('name', help=...)`` and bind its handler with
        ``p.set_defaults(handler=func)``; ``func(args)`` returns an exit code (or None).
    """
