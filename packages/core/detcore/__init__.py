"""detcore: the core of the det toolbox.

Importing this package is cheap on purpose (no torch): the command line and plugin
discovery must start fast. Heavy parts live in submodules (`detcore.structures`,
`detcore.config`) and are imported where they are used.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("detcore")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: Marks a function in a plugin module as the implementation of a hook of `detcore.hookspecs`.
hookimpl = pluggy.HookimplMarker("detcore")

__all__ = ["__version__", "hookimpl"]
