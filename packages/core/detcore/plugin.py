"""detcore's own plugin: the `plugins`, `config` and `convert` commands.

detcore registers itself through the same entry point and hooks as any other plugin.
"""

from detcore import hookimpl


@hookimpl
def detcore_add_cli_commands(subparsers):
    from detcore.cli_commands import add_config_command, add_convert_command, add_plugins_command

    add_plugins_command(subparsers)
    add_config_command(subparsers)
    add_convert_command(subparsers)
