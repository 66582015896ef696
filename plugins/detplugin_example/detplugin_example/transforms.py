"""RandomGrayscale: a data transform in the MMDetection 3.x style (a callable on the
results dict)."""

import numpy as np


class RandomGrayscale:
    """With probability ``prob``, replace the image by its grey level in every channel.

    Reads and writes ``results['img']`` ((H, W, 3) uint8, BGR as OpenCV loads it); boxes
    and masks are unchanged.
    """

    def __init__(self, prob=0.1, seed=None):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomGrayscale: prob must be in [0, 1], got {prob}")
        self.prob = prob
        self.rng = np.random.default_rng(seed)

    def __call__(self, results):
        if self.rng.random() < self.prob:
            img = results["img"].astype(np.float32)
            grey = img[..., 0] * 0.114 + img[..., 1] * 0.587 + img[..., 2] * 0.299  # BGR weights
            results["img"] = np.repeat(np.round(grey)[..., None], 3, axis=2).astype(np.uint8)
        return results

    def __repr__(self):
        return f"RandomGrayscale(prob={self.prob})"
