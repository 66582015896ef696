"""Errors that name the config key a bad value came from."""

from __future__ import annotations

import contextlib

from detcore.errors import UserError


class ConfigKeyError(UserError, ValueError):
    """A config value is missing or wrong; the message starts with its dotted key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config key '{key}': {problem}")
        self.key = key


@contextlib.contextmanager
def building(key: str):
    """Add 'while building config key KEY' to any error raised inside the block."""
    try:
        yield
    except Exception as err:
        if not isinstance(err, ConfigKeyError) and hasattr(err, "add_note"):
            notes = getattr(err, "__notes__", [])
            if not any(n.startswith("while building config key") for n in notes):
                err.add_note(f"while building config key '{key}'")
        raise
