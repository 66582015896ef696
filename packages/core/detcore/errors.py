"""The base of errors caused by user input (kept free of heavy imports)."""


class UserError(Exception):
    """An error in the user's input (a file, an argument, a config value). The command line
    prints its message without a traceback; set DETCORE_DEBUG=1 to see one."""
