"""detmodels: detection models: bricks, backbones, necks, dense and RoI heads, losses, task modules and detectors with MMDetection's module names."""
