"""detops: detection operators with compiled C++/CUDA kernels and pure-PyTorch fallbacks.

Signatures follow torchvision.ops where torchvision has the op.
"""
