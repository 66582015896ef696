"""The `detcore` command. Its sub-commands come from plugins (detcore's own included)
through the ``detcore_add_cli_commands`` hook, so installing detengine adds `run`,
installing detdatasets adds `data`, and so on.

Start-up stays fast: only plugin modules are imported here, never torch.
"""

from __future__ import annotations

import argparse
import os
import sys

from detcore import __version__, plugins
from detcore.config import ConfigError
from detcore.errors import UserError
from detcore.registry import RegistryError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detcore",
        description="Object detection toolbox: train, test, infer, convert and inspect. "
                    "Sub-commands come from the installed plugins (see `detcore plugins`).")
    parser.add_argument("--version", action="version", version=f"detcore {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    pm = plugins.plugin_manager()
    for impl in pm.hook.detcore_add_cli_commands.get_hookimpls():
        try:
            impl.function(subparsers=subparsers)
        except Exception as err:  # one broken plugin must not take the command line down
            print(f"detcore: plugin '{impl.plugin_name}' could not add its commands: "
                  f"{type(err).__name__}: {err}", file=sys.stderr)
    return parser


def command_group(subparsers, name: str, help: str = "") -> argparse._SubParsersAction:
    """The sub-command action of the command group ``name`` (e.g. ``analyze``), created
    on first use, so several plugins can add sub-commands to one group."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help, description=help)
        parser.detcore_subcommands = parser.add_subparsers(title="sub-commands", metavar="WHAT",
                                                           dest=f"{name}_command")
        parser.set_defaults(handler=lambda args: parser.print_help() or 0)
    elif not hasattr(parser, "detcore_subcommands"):
        raise ValueError(f"`detcore {name}` exists but is not a command group")
    return parser.detcore_subcommands


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("detcore: interrupted", file=sys.stderr)
        return 130
    except (UserError, ConfigError, RegistryError, FileNotFoundError) as err:
        if os.environ.get("DETCORE_DEBUG"):
            raise
        print(f"detcore {args.command}: error: {err}", file=sys.stderr)
        for note in getattr(err, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 2
