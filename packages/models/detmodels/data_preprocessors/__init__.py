"""Data preprocessors: the collated batch -> normalised, padded model inputs."""

from .data_preprocessor import DetDataPreprocessor, boxes_to_tensors

__all__ = ["DetDataPreprocessor", "boxes_to_tensors"]
