"""The `detcore` command line: start-up without torch, plugin listing, errors users read."""

import json
import subprocess
import sys
import types

from detcore import cli, hookimpl, plugins


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "detcore", *args], capture_output=True, text=True)


def test_help_lists_plugin_commands_without_importing_torch():
    code = ("import sys\nfrom detcore.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "plugins" in result.stdout and "config" in result.stdout
    assert result.stdout.strip().endswith("False")


def test_plugins_json_lists_every_registry_component_with_its_location():
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = {p["name"] for p in data["plugins"]}
    assert {"detcore", "detops", "detmodels", "detdatasets", "detengine", "detyolo"} <= names
    for regs in data["components"].values():
        for entries in regs.values():
            assert all(":" in e["location"] for e in entries)


def test_unknown_registry_is_a_clear_error():
    result = run_cli("plugins", "--registry", "MODLES")
    assert result.returncode == 2
    assert "detcore plugins: error: unknown registry 'MODLES'; choose from MODELS" in result.stderr


def test_a_plugin_whose_commands_fail_does_not_take_the_cli_down(capsys):
    def broken(subparsers):
        raise RuntimeError("cannot add")

    plugin = types.SimpleNamespace(detcore_add_cli_commands=hookimpl(broken))
    plugins.register_plugin(plugin, name="test-broken-cli", distribution="dist-broken-cli")
    try:
        parser = cli.build_parser()
    finally:
        plugins.unregister_plugin("test-broken-cli")
    assert "plugin 'test-broken-cli' could not add its commands: RuntimeError: cannot add" in \
        capsys.readouterr().err
    assert parser.parse_args(["plugins"]).handler.__name__ == "run_plugins_command"


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "usage: detcore" in capsys.readouterr().out
