"""Detectors: the model API (base.py), single-stage detectors (single_stage.py and the
one-stage families) and two-stage detectors (two_stage.py and the R-CNN families).
Components are registered lazily by module path in detmodels.plugin."""
