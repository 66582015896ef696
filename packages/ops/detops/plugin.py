"""detops's plugin module: what it contributes to detcore.

Kept cheap to import; components are registered lazily by import path.
"""
