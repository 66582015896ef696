"""Plugin discovery and loading: entry points, failures that stay contained, tracing."""

import subprocess
import sys
import types

import pytest

from detcore import hookimpl, plugins
from detcore.registry import MODELS

FIRST_PARTY = {"detcore", "detops", "detmodels", "detdatasets", "detengine", "detyolo"}


def test_first_party_packages_are_discovered_through_their_entry_points():
    found = {info.distribution: info for info in plugins.plugin_infos()}
    assert FIRST_PARTY <= set(found)
    for dist in FIRST_PARTY:
        assert found[dist].error is None
        assert found[dist].module == f"{dist}.plugin"
        assert found[dist].version[0].isdigit()


class _BrokenEntryPoint:
    """Stands in for an importlib.metadata.EntryPoint whose module raises on import."""

    name = "broken-plugin"
    value = "broken_pkg.plugin"
    dist = types.SimpleNamespace(name="broken-dist", version="9.9")

    def load(self):
        raise ImportError("No module named 'torchx'")


def test_a_plugin_that_fails_to_import_is_reported_and_others_keep_working():
    plugins.plugin_manager()
    with pytest.warns(UserWarning, match="plugin 'broken-plugin' from distribution broken-dist failed "
                                         "to load: ImportError: No module named 'torchx'"):
        plugins._load_entry_point(_BrokenEntryPoint())
    try:
        failed = {i.name: i for i in plugins.failed_plugins()}
        assert failed["broken-plugin"].distribution == "broken-dist"
        # lookups still work, and an unknown name mentions the broken plugin as a suspect
        with pytest.raises(KeyError, match="Note: plugin 'broken-plugin' from broken-dist failed"):
            MODELS.get("SomethingOnlyTheBrokenPluginHad")
    finally:
        plugins._infos.pop("broken-plugin")


def test_a_registration_hook_that_raises_is_reported_and_others_keep_working():
    def explode(registries):
        registries.MODELS.register_module(name="HalfRegistered", module=dict)
        raise RuntimeError("boom")

    bad = types.SimpleNamespace(detcore_register_components=hookimpl(explode))
    good = types.SimpleNamespace(detcore_register_components=hookimpl(
        lambda registries: registries.MODELS.register_module(name="GoodThing", module=list)))
    with pytest.warns(UserWarning, match="'test-bad' from distribution dist-bad failed to load: "
                                         "detcore_register_components raised RuntimeError: boom"):
        plugins.register_plugin(bad, name="test-bad", distribution="dist-bad")
    plugins.register_plugin(good, name="test-good", distribution="dist-good")
    try:
        assert MODELS.get("GoodThing") is list
        assert [i.error for i in plugins.plugin_infos() if i.name == "test-bad"][0].endswith("boom")
    finally:
        plugins.unregister_plugin("test-bad")
        plugins.unregister_plugin("test-good")
    assert "GoodThing" not in MODELS and "HalfRegistered" not in MODELS


def test_trace_prints_who_registered_what(monkeypatch, capsys):
    monkeypatch.setenv("DETCORE_TRACE_PLUGINS", "1")
    plugin = types.SimpleNamespace(detcore_register_components=hookimpl(
        lambda registries: registries.MODELS.register_lazy({"TracedNet": "json:JSONDecoder"})))
    plugins.register_plugin(plugin, name="test-traced", distribution="dist-traced")
    plugins.unregister_plugin("test-traced")
    err = capsys.readouterr().err
    assert "[detcore] registered plugin 'test-traced' of dist-traced in-process" in err
    assert "[detcore] dist-traced registered MODELS.TracedNet (json:JSONDecoder)" in err


def test_two_plugins_claiming_one_config_scope_is_an_error():
    a = types.SimpleNamespace(detcore_config_roots=hookimpl(lambda: {"shared": "/tmp/a"}))
    b = types.SimpleNamespace(detcore_config_roots=hookimpl(lambda: {"shared": "/tmp/b"}))
    plugins.register_plugin(a, name="test-roots-a", distribution="dist-ra")
    plugins.register_plugin(b, name="test-roots-b", distribution="dist-rb")
    try:
        with pytest.raises(ValueError, match="two plugins contribute configs under the scope 'shared'"):
            plugins.config_roots()
    finally:
        plugins.unregister_plugin("test-roots-a")
        plugins.unregister_plugin("test-roots-b")


def test_config_roots_of_first_party_packages():
    roots = plugins.config_roots()
    assert roots["detmodels"].name == "configs" and roots["detmodels"].is_dir()
    assert roots["detyolo"].is_dir()


def test_listing_plugins_and_components_does_not_import_torch():
    code = ("import sys\n"
            "from detcore.cli import main\n"
            "main(['plugins'])\n"
            "from detcore.registry import REGISTRIES\n"
            "assert sum(len(r) for r in REGISTRIES.values()) >= 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for dist in FIRST_PARTY:
        assert dist in result.stdout


def test_known_components_table_matches_what_first_party_plugins_register():
    """detcore.known_components feeds the 'pip install X' hint; it must list exactly what each
    installed first-party distribution registers."""
    from detcore.known_components import KNOWN_COMPONENTS
    from detcore.registry import REGISTRIES

    registered: dict[str, set[str]] = {}
    for registry in REGISTRIES.values():
        for entry in registry.entries():
            registered.setdefault(entry.distribution, set()).add(entry.name)
    for dist, known in KNOWN_COMPONENTS.items():
        actual = registered.get(dist, set())
        assert actual == set(known), (
            f"known_components.py is out of date for {dist}: "
            f"missing {sorted(actual - known)}, stale {sorted(known - actual)}")
