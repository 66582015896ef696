"""detengine: the training engine: runner, loops, hooks, optimizers, schedulers, checkpoints, logging, visualizer, inferencer and the run/test/infer commands."""
