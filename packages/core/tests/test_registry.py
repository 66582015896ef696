"""Registries: registration, lazy entries, provenance, clashes and the errors users read."""

import types

import pytest

from detcore import hookimpl, plugins
from detcore.registry import (
    DATASETS,
    MODELS,
    ComponentClashError,
    Registry,
    RegistryError,
    UnknownComponentError,
)


class Widget:
    def __init__(self, size=1, colour="red"):
        self.size, self.colour = size, colour


class Gadget:
    def __init__(self, strict):
        self.strict = strict


def test_register_decorator_and_build_with_default_args():
    reg = Registry("TEST")

    @reg.register_module()
    class Thing:
        def __init__(self, a, b=2):
            self.a, self.b = a, b

    built = reg.build(dict(type="Thing", a=1), default_args=dict(b=5))
    assert (built.a, built.b) == (1, 5)
    assert reg.build(dict(type="Thing", a=1, b=3), default_args=dict(b=5)).b == 3
    assert reg.get("Thing") is Thing
    assert "Thing" in reg and "Nothing" not in reg


def test_register_several_names_and_a_class_as_type():
    reg = Registry("TEST")
    reg.register_module(name=["Widget", "WidgetAlias"], module=Widget)
    assert reg.get("WidgetAlias") is Widget
    assert isinstance(reg.build(dict(type=Widget, size=3)), Widget)
    assert reg.names("Widget*") == ["Widget", "WidgetAlias"]


def test_lazy_entry_is_imported_only_when_looked_up():
    reg = Registry("TEST")
    reg.register_lazy({"JSONDecoder": "json.decoder", "Dumper": "json:dumps"})
    (dumper, decoder) = reg.entries()
    assert decoder.obj is None and dumper.obj is None
    import json
    assert reg.get("Dumper") is json.dumps
    assert reg.get("JSONDecoder") is json.JSONDecoder


def test_lazy_entry_that_cannot_be_imported_names_the_target():
    reg = Registry("TEST")
    with plugins.provided_by("somedist"):
        reg.register_lazy({"Ghost": "no_such_module_xyz.sub:Ghost"})
    with pytest.raises(RegistryError, match="registered by somedist as 'no_such_module_xyz.sub:Ghost'"):
        reg.get("Ghost")


def test_provenance_comes_from_the_registering_plugin_or_the_module():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(module=Widget)
    assert reg.entries()[0].distribution == "dist-a"
    reg2 = Registry("TEST2")
    import pluggy
    reg2.register_module(module=pluggy.PluginManager)  # outside any hook: found from the module
    assert reg2.entries()[0].distribution == "pluggy"


def test_same_name_from_two_distributions_is_a_clash():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(name="Widget", module=Widget)
    with pytest.warns(UserWarning, match="'Widget' is registered by both dist-a and dist-b"):
        with plugins.provided_by("dist-b"):
            reg.register_module(name="Widget", module=Gadget)
    with pytest.raises(ComponentClashError) as info:
        reg.get("Widget")
    message = str(info.value)
    assert "dist-a::Widget" in message and "dist-b::Widget" in message
    assert reg.get("dist-a::Widget") is Widget
    assert reg.get("dist-b::Widget") is Gadget
    assert reg.build(dict(type="dist-b::Widget", strict=True)).strict is True
    assert reg.clashes() == {"Widget": ["dist-a", "dist-b"]}
    assert "Widget" in reg  # present, just ambiguous


def test_reregistering_within_a_distribution():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(module=Widget)
        reg.register_module(module=Widget)  # the same class again: a no-op
        with pytest.raises(RegistryError, match="'Widget' is already registered by dist-a"):
            reg.register_module(name="Widget", module=Gadget)
        reg.register_module(name="Widget", module=Gadget, force=True)
    assert reg.get("Widget") is Gadget


def test_force_replaces_every_distribution():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(name="Widget", module=Widget)
    with plugins.provided_by("dist-b"):
        reg.register_module(name="Widget", module=Gadget, force=True)
    assert reg.get("Widget") is Gadget and reg.clashes() == {}


def test_unknown_name_lists_the_closest_names():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(name="ResNet", module=Widget)
        reg.register_module(name="ResNeXt", module=Gadget)
    with pytest.raises(UnknownComponentError) as info:
        reg.get("ResNett")
    message = str(info.value)
    assert message.startswith("TEST has no component named 'ResNett'.")
    assert "Closest names: ResNet (dist-a), ResNeXt (dist-a)" in message


def test_unknown_name_registered_in_another_registry_says_where():
    with plugins.provided_by("dist-elsewhere"):
        DATASETS.register_module(name="ElsewhereDataset", module=Widget)
    try:
        with pytest.raises(UnknownComponentError,
                           match="'ElsewhereDataset' is a DATASETS component \\(from dist-elsewhere\\), "
                                 "not a MODELS one"):
            MODELS.get("ElsewhereDataset")
    finally:
        del DATASETS._entries["ElsewhereDataset"]


def test_unknown_name_of_a_missing_first_party_distribution_says_what_to_install(monkeypatch):
    from detcore import known_components
    monkeypatch.setitem(known_components.KNOWN_COMPONENTS, "detfuture", frozenset({"FutureNet"}))
    with pytest.raises(UnknownComponentError,
                       match="provided by the distribution 'detfuture', which is not installed: "
                             "pip install detfuture"):
        MODELS.get("FutureNet")


def test_scoped_name_from_a_distribution_that_is_not_installed():
    with pytest.raises(UnknownComponentError, match="The distribution 'nodist' is not installed"):
        MODELS.get("nodist::Anything")


def test_build_errors_say_what_was_being_built():
    reg = Registry("TEST")
    reg.register_module(module=Widget)
    with pytest.raises(TypeError) as info:
        reg.build(dict(type="Widget", sise=3))
    assert "while building TEST type='Widget' with keys ['sise']" in info.value.__notes__[0]
    with pytest.raises(RegistryError, match="the config has no 'type' key"):
        reg.build(dict(size=3))
    with pytest.raises(TypeError, match="expects a dict with a 'type' key, got list"):
        reg.build([1, 2])


def test_double_colon_is_reserved():
    with pytest.raises(RegistryError, match="'::' is reserved"):
        Registry("TEST").register_module(name="a::b", module=Widget)


def test_iteration_yields_name_component_distribution():
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(module=Widget)
        reg.register_lazy({"JSONDecoder": "json.decoder"})
    import json
    assert list(reg) == [("JSONDecoder", json.JSONDecoder, "dist-a"), ("Widget", Widget, "dist-a")]
    assert len(reg) == 2


def test_plugin_hook_registrations_are_attributed_to_the_plugin_distribution():
    plugin = types.SimpleNamespace(
        detcore_register_components=hookimpl(
            lambda registries: registries.MODELS.register_module(name="PluggedWidget", module=Widget)))
    plugins.register_plugin(plugin, name="test-plugged", distribution="dist-plugged")
    try:
        entry = MODELS.get_entry("PluggedWidget")
        assert entry.distribution == "dist-plugged" and entry.obj is Widget
    finally:
        plugins.unregister_plugin("test-plugged")
    assert "PluggedWidget" not in MODELS


def test_lazy_and_eager_registrations_of_one_component_merge_in_either_order():
    import json
    reg = Registry("TEST")
    with plugins.provided_by("dist-a"):
        reg.register_module(module=json.JSONDecoder)
        reg.register_lazy({"JSONDecoder": "json.decoder"})
        reg.register_lazy({"JSONEncoder": "json.encoder"})
        reg.register_module(module=json.JSONEncoder)
    assert reg.clashes() == {} and len(reg) == 2
    assert all(e.obj is not None for e in reg.entries())
