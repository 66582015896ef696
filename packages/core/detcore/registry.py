"""Registries: one per kind of component, each name traced to the distribution that gave it.

Plugins fill the registries through the ``detcore_register_components`` hook, the first
time any registry is looked up. A component can be registered eagerly (the class itself)
or lazily (a ``module:attr`` path imported on first use), so that listing what is
installed (``detcore plugins``) never imports torch.

The same name from two distributions is kept twice and reported as a clash: a plain
lookup then fails with both names, and ``dist::Name`` picks one.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from detcore import plugins


class RegistryError(KeyError):
    """A registry lookup or registration failed; the message says why and what to do."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class UnknownComponentError(RegistryError):
    """No component of that name is registered."""


class ComponentClashError(RegistryError):
    """Two distributions registered the same name and the lookup did not say which."""


@dataclass
class Entry:
    """One registered component: its name, where it comes from, and how to get it."""

    name: str
    distribution: str
    obj: Any = None
    target: str | None = None  # 'package.module:attr' for a lazy entry

    def load(self) -> Any:
        if self.obj is None:
            module_name, _, attr = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
                self.obj = getattr(module, attr or self.name)
            except (ImportError, AttributeError) as err:
                raise RegistryError(
                    f"'{self.name}' is registered by {self.distribution} as '{self.target}', "
                    f"which cannot be imported: {type(err).__name__}: {err}"
                ) from err
        return self.obj

    @property
    def location(self) -> str:
        if self.target is not None:
            return self.target if ":" in self.target else f"{self.target}:{self.name}"
        return f"{getattr(self.obj, '__module__', '?')}:{getattr(self.obj, '__qualname__', self.name)}"


def _default_build(obj: Callable, args: dict) -> Any:
    return obj(**args)


class Registry:
    """Maps names to components (classes or functions) of one kind.

    ``build_func(obj, args)`` instantiates a looked-up component; registries whose
    components need more than ``obj(**args)`` pass their own.
    """

    def __init__(self, name: str, build_func: Callable[[Callable, dict], Any] | None = None):
        self.name = name
        self._entries: dict[str, list[Entry]] = {}
        self._build_func = build_func or _default_build

    # ------------------------------------------------------------------ registration
    def register_module(self, name: str | list[str] | None = None, module: Any = None,
                        force: bool = False):
        """Register ``module`` (a class or function) under ``name`` (default: its __name__).

        Without ``module`` this returns a decorator. ``force=True`` replaces every earlier
        component of that name, whichever distribution gave it.
        """
        if name is not None and not isinstance(name, (str, list, tuple)):
            raise TypeError(f"{self.name}.register_module: name must be a str or a list of str, "
                            f"got {type(name).__name__}")
        if module is None:
            def decorator(obj):
                self.register_module(name=name, module=obj, force=force)
                return obj
            return decorator
        names = [name] if isinstance(name, str) else list(name or [module.__name__])
        for n in names:
            self._add(Entry(n, plugins.current_distribution(module), obj=module), force)
        return module

    def register_lazy(self, components: Mapping[str, str], force: bool = False) -> None:
        """Register components by import path, imported only when first looked up.

        ``components`` maps a name to ``'package.module'`` (the attribute has the same
        name) or ``'package.module:attr'``.
        """
        for n, target in components.items():
            self._add(Entry(n, plugins.current_distribution(), target=target), force)

    def _add(self, entry: Entry, force: bool) -> None:
        if "::" in entry.name:
            raise RegistryError(f"{self.name}: '::' is reserved for 'dist::Name' lookups; "
                                f"cannot register '{entry.name}'")
        existing = self._entries.get(entry.name, [])
        if force:
            existing = []
        for i, old in enumerate(existing):
            if old.distribution != entry.distribution:
                continue
            if old.location == entry.location:  # the same component again, eagerly or lazily
                if old.obj is None:
                    existing[i] = entry  # keep the imported object if we now have it
                return
            raise RegistryError(
                f"{self.name}: '{entry.name}' is already registered by {old.distribution} "
                f"({old.location}); cannot register {entry.location} under the same name. "
                f"Use another name, or force=True to replace it."
            )
        if existing:
            others = ", ".join(sorted({e.distribution for e in existing}))
            warnings.warn(
                f"{self.name}: '{entry.name}' is registered by both {others} and "
                f"{entry.distribution}; a config must say which, e.g. "
                f"'{entry.distribution}::{entry.name}'", stacklevel=3)
        self._entries[entry.name] = existing + [entry]
        plugins.trace(f"{entry.distribution} registered {self.name}.{entry.name} ({entry.location})")

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> Any:
        """Return the component called ``name`` or ``'dist::name'``; raise a helpful error if none."""
        return self.get_entry(name).load()

    def get_entry(self, name: str) -> Entry:
        if not isinstance(name, str):
            raise TypeError(f"{self.name}: a component name must be a str, got {name!r}")
        plugins.load_components()
        dist, sep, short = name.rpartition("::")
        candidates = self._entries.get(short, [])
        if sep:
            picked = [e for e in candidates if e.distribution == dist]
            if picked:
                return picked[0]
            raise UnknownComponentError(self._unknown_message(short, dist=dist))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise UnknownComponentError(self._unknown_message(short))
        choices = "\n".join(f"  {e.distribution}::{short}   ({e.location})" for e in candidates)
        raise ComponentClashError(
            f"{self.name}: '{short}' is registered by several distributions; write one of\n{choices}")

    def build(self, cfg: Mapping | None, default_args: Mapping | None = None) -> Any:
        """Instantiate ``cfg['type']`` with the other keys of ``cfg`` (and ``default_args``)."""
        if cfg is None:
            return None
        if not isinstance(cfg, Mapping):
            raise TypeError(f"{self.name}.build expects a dict with a 'type' key, got "
                            f"{type(cfg).__name__}: {cfg!r}")
        args = dict(cfg)
        if default_args:
            for key, value in default_args.items():
                args.setdefault(key, value)
        if "type" not in args:
            raise RegistryError(f"{self.name}.build: the config has no 'type' key: {dict(cfg)!r}")
        kind = args.pop("type")
        obj = self.get(kind) if isinstance(kind, str) else kind
        if not callable(obj):
            raise TypeError(f"{self.name}.build: type must be a name or a callable, got {kind!r}")
        try:
            return self._build_func(obj, args)
        except Exception as err:
            if hasattr(err, "add_note"):
                label = kind if isinstance(kind, str) else getattr(kind, "__name__", repr(kind))
                err.add_note(f"while building {self.name} type='{label}' with keys {sorted(args)}")
            raise

    # ------------------------------------------------------------------ introspection
    def entries(self) -> list[Entry]:
        """Every entry, clashes included, without importing lazy ones."""
        plugins.load_components()
        return [e for name in sorted(self._entries) for e in self._entries[name]]

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard pattern (``'YOLO*'``)."""
        plugins.load_components()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def clashes(self) -> dict[str, list[str]]:
        """Names registered by more than one distribution, with those distributions."""
        plugins.load_components()
        return {n: [e.distribution for e in es] for n, es in sorted(self._entries.items())
                if len(es) > 1}

    def __contains__(self, name: str) -> bool:
        try:
            self.get_entry(name)
        except ComponentClashError:
            return True
        except RegistryError:
            return False
        return True

    def __len__(self) -> int:
        plugins.load_components()
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[str, Any, str]]:
        """Yield ``(name, component, distribution)``, importing lazy components."""
        for entry in self.entries():
            yield entry.name, entry.load(), entry.distribution

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {len(self._entries)} names)"

    # ------------------------------------------------------------------ error messages
    def _unknown_message(self, name: str, dist: str | None = None) -> str:
        asked = f"{dist}::{name}" if dist else name
        lines = [f"{self.name} has no component named '{asked}'."]
        if dist and name in self._entries:
            have = ", ".join(e.distribution for e in self._entries[name])
            lines.append(f"  '{name}' is provided by {have}, not by {dist}.")
        elif dist and dist not in plugins.installed_distributions():
            lines.append(f"  The distribution '{dist}' is not installed (or has no detcore plugin).")
        elsewhere = [(r.name, e.distribution) for r in REGISTRIES.values() if r is not self
                     for e in r._entries.get(name, [])]
        for registry_name, provider in elsewhere:
            lines.append(f"  '{name}' is a {registry_name} component (from {provider}), "
                         f"not a {self.name} one: check where it is used in the config.")
        if not elsewhere and not (dist and name in self._entries):
            provider = known_provider(name)
            if provider and provider not in plugins.installed_distributions():
                lines.append(f"  '{name}' is provided by the distribution '{provider}', which is "
                             f"not installed: pip install {provider}")
        close = difflib.get_close_matches(name, list(self._entries), n=5, cutoff=0.6)
        if close:
            shown = ", ".join(f"{c} ({'/'.join(e.distribution for e in self._entries[c])})"
                              for c in close)
            lines.append(f"  Closest names: {shown}")
        for failure in plugins.failed_plugins():
            lines.append(f"  Note: plugin '{failure.name}' from {failure.distribution} failed to "
                         f"load and may have provided it: {failure.error}")
        return "\n".join(lines)


def known_provider(name: str) -> str | None:
    """The first-party distribution that provides ``name``, installed or not."""
    from detcore.known_components import KNOWN_COMPONENTS

    for dist, names in KNOWN_COMPONENTS.items():
        if name in names:
            return dist
    return None


MODELS = Registry("MODELS")
TASK_UTILS = Registry("TASK_UTILS")
DATASETS = Registry("DATASETS")
DATA_SAMPLERS = Registry("DATA_SAMPLERS")
TRANSFORMS = Registry("TRANSFORMS")
METRICS = Registry("METRICS")
HOOKS = Registry("HOOKS")
OPTIMIZERS = Registry("OPTIMIZERS")
OPTIM_WRAPPERS = Registry("OPTIM_WRAPPERS")
PARAM_SCHEDULERS = Registry("PARAM_SCHEDULERS")
LOOPS = Registry("LOOPS")
VISUALIZERS = Registry("VISUALIZERS")
CONVERTERS = Registry("CONVERTERS")
FUNCTIONS = Registry("FUNCTIONS")  # plain functions named in configs, e.g. collate_fn

#: Every registry by name, in the order `detcore plugins` lists them.
REGISTRIES: dict[str, Registry] = {
    r.name: r for r in (MODELS, TASK_UTILS, DATASETS, DATA_SAMPLERS, TRANSFORMS, METRICS, HOOKS, OPTIMIZERS,
                        OPTIM_WRAPPERS, PARAM_SCHEDULERS, LOOPS, VISUALIZERS, CONVERTERS,
                        FUNCTIONS)
}


class Registries:
    """The namespace passed to ``detcore_register_components``: one attribute per registry."""

    def __init__(self, registries: Mapping[str, Registry]):
        self.__dict__.update(registries)

    def __iter__(self):
        return iter(self.__dict__.values())


registries = Registries(REGISTRIES)

__all__ = ["Registry", "RegistryError", "UnknownComponentError", "ComponentClashError", "Entry",
           "REGISTRIES", "registries", *REGISTRIES]
