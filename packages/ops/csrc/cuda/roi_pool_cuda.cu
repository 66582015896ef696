// RoI Pool on CUDA, same bins as the CPU kernels (roi_pool.h): one thread per output bin for
// the forward pass (maximum and its flat position), one per grad_output element for the
// backward pass, which adds into grad_input atomically. RoIs whose batch index is out of range
// pool to zero instead of reading out of bounds (the Python wrapper rejects them earlier).
#include <ATen/ATen.h>
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>

#include "../roi_pool.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  return static_cast<int>(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535));
}

struct RoiPoolArgs {
  int64_t batch, channels, height, width, pooled_h, pooled_w;
};

template <typename T>
__global__ void forward_kernel(int64_t count, const T* input, const T* rois, T spatial_scale,
                               RoiPoolArgs a, T* output, int32_t* argmax) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t pw = index % a.pooled_w, ph = (index / a.pooled_w) % a.pooled_h;
    const int64_t c = (index / (a.pooled_w * a.pooled_h)) % a.channels;
    const T* roi = rois + index / (a.pooled_w * a.pooled_h * a.channels) * 5;
    const int64_t batch_index = static_cast<int64_t>(roi[0]);
    T max_value = 0;
    int64_t best = -1;
    if (batch_index >= 0 && batch_index < a.batch) {
      int64_t h_lo, h_hi, w_lo, w_hi;
      roi_pool_bin<T>(roi_pool_snap(roi[2], spatial_scale), roi_pool_snap(roi[4], spatial_scale),
                      ph, a.pooled_h, a.height, h_lo, h_hi);
      roi_pool_bin<T>(roi_pool_snap(roi[1], spatial_scale), roi_pool_snap(roi[3], spatial_scale),
                      pw, a.pooled_w, a.width, w_lo, w_hi);
      const T* plane = input + (batch_index * a.channels + c) * a.height * a.width;
      for (int64_t h = h_lo; h < h_hi; ++h)
        for (int64_t w = w_lo; w < w_hi; ++w)
          if (best < 0 || plane[h * a.width + w] > max_value) {
            max_value = plane[h * a.width + w];
            best = h * a.width + w;
          }
    }
    output[index] = max_value;
    argmax[index] = static_cast<int32_t>(best);
  }
}

template <typename T>
__global__ void backward_kernel(int64_t count, const T* grad_output, const T* rois,
                                const int32_t* argmax, RoiPoolArgs a, T* grad_input) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t c = (index / (a.pooled_w * a.pooled_h)) % a.channels;
    const int64_t n = index / (a.pooled_w * a.pooled_h * a.channels);
    const int64_t batch_index = static_cast<int64_t>(rois[n * 5]);
    const int32_t best = argmax[index];
    if (best < 0 || best >= a.height * a.width || batch_index < 0 || batch_index >= a.batch)
      continue;
    gpuAtomicAdd(grad_input + (batch_index * a.channels + c) * a.height * a.width + best,
                 grad_output[index]);
  }
}

at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

void check_rois(const at::Tensor& rois, const at::Tensor& like) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5 && at::isFloatingType(rois.scalar_type()),
              "detops.roi_pool: rois must be a floating point (K, 5) tensor, got ", rois.sizes());
  TORCH_CHECK(rois.device() == like.device(), "detops.roi_pool: rois must be on ", like.device());
}

std::tuple<at::Tensor, at::Tensor> roi_pool_cuda(const at::Tensor& input, const at::Tensor& rois,
                                                 double spatial_scale, int64_t pooled_height,
                                                 int64_t pooled_width) {
  TORCH_CHECK(input.dim() == 4 && at::isFloatingType(input.scalar_type()),
              "detops.roi_pool: input must be a floating point (N, C, H, W) tensor, got ",
              input.sizes());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "detops.roi_pool: output_size must be positive");
  TORCH_CHECK(input.size(2) * input.size(3) < std::numeric_limits<int32_t>::max(),
              "detops.roi_pool: feature maps above 2^31 pixels are not supported");
  check_rois(rois, input);
  const c10::cuda::CUDAGuard guard(input.device());
  const auto type = compute_type(input.scalar_type());
  const auto x = input.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const RoiPoolArgs a{x.size(0), x.size(1), x.size(2), x.size(3), pooled_height, pooled_width};
  auto output = at::zeros({r.size(0), a.channels, pooled_height, pooled_width}, x.options());
  auto argmax = at::full(output.sizes(), -1, x.options().dtype(at::kInt));
  const int64_t count = output.numel();
  if (count > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_pool_cuda", [&] {
      forward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                 c10::cuda::getCurrentCUDAStream()>>>(
          count, x.const_data_ptr<scalar_t>(), r.const_data_ptr<scalar_t>(),
          static_cast<scalar_t>(spatial_scale), a, output.mutable_data_ptr<scalar_t>(),
          argmax.mutable_data_ptr<int32_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return {output.to(input.scalar_type()), argmax};
}

at::Tensor roi_pool_backward_cuda(const at::Tensor& grad_output, const at::Tensor& rois,
                                  const at::Tensor& argmax, int64_t batch_size, int64_t channels,
                                  int64_t height, int64_t width) {
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
                  grad_output.size(1) == channels && argmax.sizes() == grad_output.sizes() &&
                  argmax.scalar_type() == at::kInt && argmax.device() == grad_output.device(),
              "detops.roi_pool_backward: grad_output and the int32 argmax must be (K, C, PH, PW)");
  check_rois(rois, grad_output);
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const auto type = compute_type(grad_output.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const auto best = argmax.contiguous();
  const RoiPoolArgs a{batch_size, channels, height, width, grad_output.size(2),
                      grad_output.size(3)};
  auto grad_input = at::zeros({batch_size, channels, height, width}, g.options());
  const int64_t count = g.numel();
  if (count > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_pool_backward_cuda", [&] {
      backward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(
          count, g.const_data_ptr<scalar_t>(), r.const_data_ptr<scalar_t>(),
          best.const_data_ptr<int32_t>(), a, grad_input.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return grad_input.to(grad_output.scalar_type());
}

}  // namespace

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("roi_pool", &roi_pool_cuda);
  m.impl("roi_pool_backward", &roi_pool_backward_cuda);
}

}  // namespace detops
