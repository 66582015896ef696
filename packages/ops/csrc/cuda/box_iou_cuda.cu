// Box overlaps (IoU, IoF, GIoU) and their gradient on CUDA: one thread per output element
// for the forward pass; for the backward, one thread per box of boxes1 (summing over its
// row) and one per box of boxes2 (summing over its column), so no atomics are needed.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>

#include "../box_iou.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t count) {
  return static_cast<int>(std::max<int64_t>(1, (count + kThreads - 1) / kThreads));
}

template <typename T>
__global__ void overlaps_kernel(int64_t count, int64_t n, int64_t m, bool aligned, const T* b1,
                                const T* b2, int mode, bool use_eps, T eps, T* out) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= count) return;
  if (aligned) {
    out[idx] = box_overlap(b1 + 4 * idx, b2 + 4 * idx, mode, use_eps, eps);
    return;
  }
  const int64_t row = idx / m, batch = row / n, j = idx % m;
  out[idx] = box_overlap(b1 + 4 * row, b2 + 4 * (batch * m + j), mode, use_eps, eps);
}

template <typename T>
__global__ void aligned_backward_kernel(int64_t count, const T* grad, const T* b1, const T* b2,
                                        int mode, bool use_eps, T eps, T* g1, T* g2) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  box_overlap_backward(b1 + 4 * i, b2 + 4 * i, mode, use_eps, eps, grad[i], g1 + 4 * i,
                       g2 + 4 * i);
}

// wrt_first: one thread per (batch, row) of boxes1; otherwise per (batch, column) of boxes2.
template <typename T>
__global__ void pairwise_backward_kernel(int64_t count, int64_t n, int64_t m, bool wrt_first,
                                         const T* grad, const T* b1, const T* b2, int mode,
                                         bool use_eps, T eps, T* out) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= count) return;
  T acc[4] = {0, 0, 0, 0}, unused[4] = {0, 0, 0, 0};
  if (wrt_first) {
    const int64_t batch = idx / n;
    for (int64_t j = 0; j < m; ++j)
      box_overlap_backward(b1 + 4 * idx, b2 + 4 * (batch * m + j), mode, use_eps, eps,
                           grad[idx * m + j], acc, unused);
  } else {
    const int64_t batch = idx / m, j = idx % m;
    for (int64_t i = 0; i < n; ++i)
      box_overlap_backward(b1 + 4 * (batch * n + i), b2 + 4 * idx, mode, use_eps, eps,
                           grad[(batch * n + i) * m + j], unused, acc);
  }
  for (int k = 0; k < 4; ++k) out[4 * idx + k] = acc[k];
}

void check_inputs(const at::Tensor& boxes1, const at::Tensor& boxes2, bool aligned) {
  TORCH_CHECK(boxes1.dim() == 3 && boxes1.size(2) == 4 && boxes2.dim() == 3 &&
                  boxes2.size(2) == 4 && boxes1.size(0) == boxes2.size(0),
              "detops: boxes1 and boxes2 must have shapes (B, N, 4) and (B, M, 4)");
  TORCH_CHECK(!aligned || boxes1.size(1) == boxes2.size(1),
              "detops: aligned overlaps need as many boxes1 as boxes2");
  TORCH_CHECK(boxes1.is_contiguous() && boxes2.is_contiguous() &&
                  boxes1.scalar_type() == boxes2.scalar_type(),
              "detops: boxes1 and boxes2 must be contiguous and of one dtype");
}

at::Tensor box_overlaps_cuda(const at::Tensor& boxes1, const at::Tensor& boxes2, int64_t mode,
                             bool aligned, std::optional<double> eps) {
  check_inputs(boxes1, boxes2, aligned);
  const c10::cuda::CUDAGuard guard(boxes1.device());
  const int64_t batch = boxes1.size(0), n = boxes1.size(1), m = boxes2.size(1);
  auto out = aligned ? at::empty({batch, n}, boxes1.options())
                     : at::empty({batch, n, m}, boxes1.options());
  const int64_t count = out.numel();
  if (count == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_overlaps_cuda", [&] {
    overlaps_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                c10::cuda::getCurrentCUDAStream()>>>(
        count, n, m, aligned, boxes1.data_ptr<scalar_t>(), boxes2.data_ptr<scalar_t>(),
        static_cast<int>(mode), eps.has_value(), static_cast<scalar_t>(eps.value_or(0.0)),
        out.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::tuple<at::Tensor, at::Tensor> box_overlaps_backward_cuda(const at::Tensor& grad,
                                                              const at::Tensor& boxes1,
                                                              const at::Tensor& boxes2,
                                                              int64_t mode, bool aligned,
                                                              std::optional<double> eps) {
  check_inputs(boxes1, boxes2, aligned);
  TORCH_CHECK(grad.is_contiguous() && grad.scalar_type() == boxes1.scalar_type(),
              "detops: grad must be contiguous and of the boxes' dtype");
  const c10::cuda::CUDAGuard guard(boxes1.device());
  const int64_t batch = boxes1.size(0), n = boxes1.size(1), m = boxes2.size(1);
  auto grad1 = at::zeros_like(boxes1);
  auto grad2 = at::zeros_like(boxes2);
  auto stream = c10::cuda::getCurrentCUDAStream();
  const bool use_eps = eps.has_value();
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_overlaps_backward_cuda", [&] {
    using T = scalar_t;
    const T e = static_cast<T>(eps.value_or(0.0));
    const int imode = static_cast<int>(mode);
    if (aligned) {
      if (batch * n == 0) return;
      aligned_backward_kernel<T><<<blocks_for(batch * n), kThreads, 0, stream>>>(
          batch * n, grad.data_ptr<T>(), boxes1.data_ptr<T>(), boxes2.data_ptr<T>(), imode,
          use_eps, e, grad1.data_ptr<T>(), grad2.data_ptr<T>());
      return;
    }
    if (batch * n > 0)
      pairwise_backward_kernel<T><<<blocks_for(batch * n), kThreads, 0, stream>>>(
          batch * n, n, m, true, grad.data_ptr<T>(), boxes1.data_ptr<T>(), boxes2.data_ptr<T>(),
          imode, use_eps, e, grad1.data_ptr<T>());
    if (batch * m > 0)
      pairwise_backward_kernel<T><<<blocks_for(batch * m), kThreads, 0, stream>>>(
          batch * m, n, m, false, grad.data_ptr<T>(), boxes1.data_ptr<T>(), boxes2.data_ptr<T>(),
          imode, use_eps, e, grad2.data_ptr<T>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {grad1, grad2};
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("box_overlaps", &detops::box_overlaps_cuda);
  m.impl("box_overlaps_backward", &detops::box_overlaps_backward_cuda);
}
