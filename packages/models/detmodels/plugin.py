"""detmodels's plugin module: what it contributes to detcore.

Kept cheap to import; components are registered lazily by import path.
"""

from pathlib import Path

from detcore import hookimpl


@hookimpl
def detcore_config_roots():
    return {"detmodels": Path(__file__).parent / "configs"}
