"""Optimizers, optimizer wrappers (clipping, accumulation, mixed precision), their
constructor (per-parameter settings) and parameter schedulers."""
