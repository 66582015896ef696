"""Placeholder until the config system lands (being written now)."""


class ConfigError(ValueError):
    pass
