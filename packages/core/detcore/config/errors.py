"""The one error type of the config system."""

from detcore.errors import UserError


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be read, resolved or applied.

    The message always names the file (and line, where there is one) and the key.
    """
