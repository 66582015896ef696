"""Finding, loading and tracing plugins.

A plugin is a module named by an entry point in the group ``detcore.plugins``. The
modules are imported the first time the plugin manager is asked for (cheap: they only
define hook functions); their components are registered later, the first time a registry
is looked up (``load_components``). A plugin that fails at either step is reported with
its distribution and error, and the others carry on.

Set ``DETCORE_TRACE_PLUGINS=1`` to print every plugin loaded and every name registered.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path
from types import ModuleType

import pluggy

from detcore import hookspecs

ENTRY_POINT_GROUP = "detcore.plugins"


@dataclass
class PluginInfo:
    """What `detcore plugins` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    error: str | None = None


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
_components_state = "unloaded"  # -> "loading" -> "loaded"
_current_dist: ContextVar[str | None] = ContextVar("detcore_current_distribution", default=None)


def tracing() -> bool:
    return os.environ.get("DETCORE_TRACE_PLUGINS", "") not in ("", "0")


def trace(message: str) -> None:
    """Print ``message`` to stderr when DETCORE_TRACE_PLUGINS is set."""
    if tracing():
        print(f"[detcore] {message}", file=sys.stderr)


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed plugin module imported."""
    global _pm
    if _pm is None:
        _pm = pluggy.PluginManager("detcore")
        _pm.add_hookspecs(hookspecs)
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            _load_entry_point(ep)
    return _pm


def _load_entry_point(ep) -> None:
    dist = ep.dist.name if ep.dist else "?"
    version = ep.dist.version if ep.dist else "?"
    info = PluginInfo(ep.name, dist, version, ep.value)
    if ep.name in _infos:
        info.error = (f"the plugin name '{ep.name}' is already taken by "
                      f"{_infos[ep.name].distribution}; rename one of the entry points")
        _report_failure(info)
        _infos[f"{ep.name} ({dist})"] = info
        return
    _infos[ep.name] = info
    try:
        module = ep.load()
    except Exception as err:  # a broken plugin must not break the others
        info.error = f"{type(err).__name__}: {err}"
        _report_failure(info)
        return
    _pm.register(module, name=ep.name)
    trace(f"loaded plugin '{ep.name}' from {dist} {version} ({ep.value})")


def _report_failure(info: PluginInfo) -> None:
    warnings.warn(f"detcore plugin '{info.name}' from distribution {info.distribution} "
                  f"failed to load: {info.error}", stacklevel=3)


def register_plugin(module: ModuleType | object, name: str | None = None,
                    distribution: str | None = None) -> None:
    """Register a plugin object in-process (scripts, notebooks, tests), as an entry point would.

    If components were already loaded, its registration hooks run at once.
    """
    pm = plugin_manager()
    name = name or getattr(module, "__name__", None) or repr(module)
    distribution = distribution or _distribution_of_module(getattr(module, "__name__", ""))
    _infos[name] = PluginInfo(name, distribution, "-", getattr(module, "__name__", repr(module)))
    pm.register(module, name=name)
    trace(f"registered plugin '{name}' of {distribution} in-process")
    if _components_state == "loaded":
        _call_registration_hooks(pm.get_plugin(name))


def unregister_plugin(name: str) -> None:
    """Remove a plugin and every component its distribution registered (the reverse of
    ``register_plugin``; meant for tests and interactive sessions)."""
    from detcore.registry import REGISTRIES

    info = _infos.pop(name, None)
    if _pm is not None and _pm.has_plugin(name):
        _pm.unregister(name=name)
    if info is None or any(i.distribution == info.distribution for i in _infos.values()):
        return
    for registry in REGISTRIES.values():
        for key in list(registry._entries):
            kept = [e for e in registry._entries[key] if e.distribution != info.distribution]
            if kept:
                registry._entries[key] = kept
            else:
                del registry._entries[key]


def load_components() -> None:
    """Run every plugin's registration hooks, once per process."""
    global _components_state
    if _components_state != "unloaded":
        return  # "loading": a lookup made from inside a registration hook sees what is there
    _components_state = "loading"
    try:
        pm = plugin_manager()
        for name, plugin in pm.list_name_plugin():
            _call_registration_hooks(plugin, name)
    finally:
        _components_state = "loaded"


def _call_registration_hooks(plugin, name: str | None = None) -> None:
    from detcore.registry import CONVERTERS, registries

    pm = plugin_manager()
    name = name or pm.get_name(plugin)
    info = _infos.get(name)
    dist = info.distribution if info else _distribution_of_module(getattr(plugin, "__name__", ""))
    calls = (("detcore_register_components", {"registries": registries}),
             ("detcore_register_converters", {"converters": CONVERTERS}))
    for hook_name, kwargs in calls:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            with provided_by(dist):
                try:
                    impl.function(*(kwargs[a] for a in impl.argnames))
                except Exception as err:  # report, keep the other plugins working
                    failure = PluginInfo(name, dist, info.version if info else "-",
                                         info.module if info else "-",
                                         f"{hook_name} raised {type(err).__name__}: {err}")
                    if info:
                        info.error = failure.error
                    _report_failure(failure)


@contextlib.contextmanager
def provided_by(distribution: str):
    """Attribute everything registered inside the block to ``distribution``."""
    token = _current_dist.set(distribution)
    try:
        yield
    finally:
        _current_dist.reset(token)


def current_distribution(obj: object = None) -> str:
    """The distribution a registration comes from: the plugin whose hook is running, else
    the distribution that installed ``obj``'s module, else the module's name."""
    dist = _current_dist.get()
    if dist is not None:
        return dist
    return _distribution_of_module(getattr(obj, "__module__", None) or "__main__")


@functools.cache
def _top_level_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _distribution_of_module(module_name: str) -> str:
    top = module_name.partition(".")[0]
    dists = _top_level_distributions().get(top)
    return dists[0] if dists else (top or "__main__")


def plugin_infos() -> list[PluginInfo]:
    plugin_manager()
    return list(_infos.values())


def failed_plugins() -> list[PluginInfo]:
    return [i for i in plugin_infos() if i.error]


def installed_distributions() -> set[str]:
    """Distributions that provide a detcore plugin (loaded or failed)."""
    return {i.distribution for i in plugin_infos()}


def config_roots() -> dict[str, Path]:
    """Scope name -> folder of config files, gathered from every plugin."""
    roots: dict[str, Path] = {}
    for answer in plugin_manager().hook.detcore_config_roots():
        for scope, folder in (answer or {}).items():
            if scope in roots and Path(folder) != roots[scope]:
                raise ValueError(f"two plugins contribute configs under the scope '{scope}': "
                                 f"{roots[scope]} and {folder}")
            roots[scope] = Path(folder)
    return roots
