"""Runner hooks. Each module holds one hook; all are registered in HOOKS by detengine's plugin."""

from detengine.hooks.hook import Hook

__all__ = ["Hook"]
