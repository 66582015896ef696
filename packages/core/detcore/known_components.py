"""Which first-party distribution provides which component name.

Used only for error messages: when a config asks for a name that no installed plugin
provides, the error can say which distribution to install. A test checks this table
against what the installed first-party plugins really register, so it cannot drift.
"""

KNOWN_COMPONENTS: dict[str, frozenset[str]] = {
    "detmodels": frozenset(),
    "detdatasets": frozenset(),
    "detengine": frozenset(),
    "detyolo": frozenset(),
    "detops": frozenset(),
}
