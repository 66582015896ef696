"""detops: detection operators: NMS family, RoI align/pool, deformable convolution, focal loss, box IoU; C++/CUDA kernels with pure-PyTorch fallbacks."""
