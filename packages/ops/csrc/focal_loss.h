// Sigmoid focal loss (Lin et al., 2017) of one logit and its derivative, shared by the CPU
// kernels (focal_loss.cpp) and the CUDA kernels (cuda/focal_loss_cuda.cu).
//
// For logit x, p = sigmoid(x):
//   the target class:  loss = -alpha (1 - p)^gamma log(p)
//   any other class:   loss = -(1 - alpha) p^gamma log(1 - p)
// log(p) and log(1 - p) are taken as -softplus(-x) and -softplus(x), which stay finite for
// logits of any size.
#pragma once

#include <cmath>

#ifndef DETOPS_HOST_DEVICE
#ifdef __CUDACC__
#define DETOPS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DETOPS_HOST_DEVICE inline
#endif
#endif

namespace detops {

template <typename T>
DETOPS_HOST_DEVICE T softplus(T z) {
  return (z > 0 ? z : T(0)) + log1p(exp(-fabs(z)));
}

template <typename T>
DETOPS_HOST_DEVICE T sigmoid_focal_loss_value(T x, bool is_target, T gamma, T alpha) {
  const T p = T(1) / (T(1) + exp(-x));
  if (is_target) return alpha * pow(T(1) - p, gamma) * softplus(-x);
  return (T(1) - alpha) * pow(p, gamma) * softplus(x);
}

// d loss / d x
template <typename T>
DETOPS_HOST_DEVICE T sigmoid_focal_loss_grad(T x, bool is_target, T gamma, T alpha) {
  const T p = T(1) / (T(1) + exp(-x));
  if (is_target) {
    const T log_p = -softplus(-x);
    return -alpha * pow(T(1) - p, gamma) * (T(1) - p - gamma * p * log_p);
  }
  const T log_not_p = -softplus(x);
  return -(T(1) - alpha) * pow(p, gamma) * (gamma * (T(1) - p) * log_not_p - p);
}

}  // namespace detops
