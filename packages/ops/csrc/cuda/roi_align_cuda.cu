// RoI Align on CUDA, same geometry as the CPU kernels (roi_align.h): one thread per output bin
// for the forward pass, one per grad_output element for the backward pass, which adds into
// grad_input atomically. RoIs whose batch index is out of range, or whose adaptive grid is
// absurdly large, pool to zero instead of reading out of bounds (the Python wrapper rejects
// them before they get here).
#include <ATen/ATen.h>
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "../roi_align.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  return static_cast<int>(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535));
}

struct RoiAlignArgs {
  int64_t batch, channels, height, width, pooled_h, pooled_w, sampling_ratio;
  bool aligned, max_pool;
};

// The RoI of output element `index` of (K, C, PH, PW), its box, and whether it can be pooled.
template <typename T>
struct Bin {
  int64_t n, c, ph, pw, batch_index;
  RoiAlignBox<T> box;
  bool valid;
};

template <typename T>
__device__ Bin<T> bin_of(int64_t index, const T* rois, T spatial_scale, const RoiAlignArgs& a) {
  Bin<T> bin;
  bin.pw = index % a.pooled_w;
  bin.ph = (index / a.pooled_w) % a.pooled_h;
  bin.c = (index / (a.pooled_w * a.pooled_h)) % a.channels;
  bin.n = index / (a.pooled_w * a.pooled_h * a.channels);
  const T* roi = rois + bin.n * 5;
  bin.batch_index = static_cast<int64_t>(roi[0]);
  bin.box = roi_align_box<T>(roi, spatial_scale, a.pooled_h, a.pooled_w, a.sampling_ratio,
                             a.aligned);
  bin.valid = bin.batch_index >= 0 && bin.batch_index < a.batch &&
              bin.box.samples_per_bin() <= kRoiAlignMaxSamplesPerBin;
  return bin;
}

template <typename T>
__global__ void forward_kernel(int64_t count, const T* input, const T* rois, T spatial_scale,
                               RoiAlignArgs a, T* output, int32_t* winner) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const auto bin = bin_of(index, rois, spatial_scale, a);
    T sum = 0, max_value = 0;
    int32_t best = -1;
    if (bin.valid) {
      const T* plane = input + (bin.batch_index * a.channels + bin.c) * a.height * a.width;
      for (int64_t iy = 0; iy < bin.box.grid_h; ++iy) {
        const auto y = roi_axis_sample(bin.box.row(bin.ph, iy), a.height);
        for (int64_t ix = 0; ix < bin.box.grid_w; ++ix) {
          const T v = roi_bilinear(plane, a.width, y,
                                   roi_axis_sample(bin.box.col(bin.pw, ix), a.width));
          sum += v;
          if (best < 0 || v > max_value) {
            max_value = v;
            best = static_cast<int32_t>(iy * bin.box.grid_w + ix);
          }
        }
      }
    }
    if (a.max_pool) {
      output[index] = max_value;
      winner[index] = best;
    } else {
      const int64_t samples = bin.valid ? bin.box.samples_per_bin() : 0;
      output[index] = sum / static_cast<T>(samples > 1 ? samples : 1);
    }
  }
}

template <typename T>
__device__ void scatter_sample(T* plane, int64_t width, const RoiAxisSample<T>& y,
                               const RoiAxisSample<T>& x, T grad) {
  gpuAtomicAdd(plane + y.low * width + x.low, (y.w_low * x.w_low) * grad);
  gpuAtomicAdd(plane + y.low * width + x.high, (y.w_low * x.w_high) * grad);
  gpuAtomicAdd(plane + y.high * width + x.low, (y.w_high * x.w_low) * grad);
  gpuAtomicAdd(plane + y.high * width + x.high, (y.w_high * x.w_high) * grad);
}

template <typename T>
__global__ void backward_kernel(int64_t count, const T* grad_output, const T* rois,
                                T spatial_scale, RoiAlignArgs a, const int32_t* winner,
                                T* grad_input) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const auto bin = bin_of(index, rois, spatial_scale, a);
    if (!bin.valid) continue;
    T* plane = grad_input + (bin.batch_index * a.channels + bin.c) * a.height * a.width;
    if (a.max_pool) {
      const int32_t best = winner[index];
      if (best < 0) continue;
      scatter_sample(plane, a.width,
                     roi_axis_sample(bin.box.row(bin.ph, best / bin.box.grid_w), a.height),
                     roi_axis_sample(bin.box.col(bin.pw, best % bin.box.grid_w), a.width),
                     grad_output[index]);
      continue;
    }
    const int64_t samples = bin.box.samples_per_bin();
    const T grad = grad_output[index] / static_cast<T>(samples > 1 ? samples : 1);
    for (int64_t iy = 0; iy < bin.box.grid_h; ++iy) {
      const auto y = roi_axis_sample(bin.box.row(bin.ph, iy), a.height);
      for (int64_t ix = 0; ix < bin.box.grid_w; ++ix)
        scatter_sample(plane, a.width, y, roi_axis_sample(bin.box.col(bin.pw, ix), a.width),
                       grad);
    }
  }
}

at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

void check_rois(const at::Tensor& rois, const at::Tensor& like) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5 && at::isFloatingType(rois.scalar_type()),
              "detops.roi_align: rois must be a floating point (K, 5) tensor, got ",
              rois.sizes());
  TORCH_CHECK(rois.device() == like.device(), "detops.roi_align: rois must be on ",
              like.device());
}

std::tuple<at::Tensor, at::Tensor> roi_align_cuda(const at::Tensor& input, const at::Tensor& rois,
                                                  double spatial_scale, int64_t pooled_height,
                                                  int64_t pooled_width, int64_t sampling_ratio,
                                                  bool aligned, bool max_pool) {
  TORCH_CHECK(input.dim() == 4 && at::isFloatingType(input.scalar_type()),
              "detops.roi_align: input must be a floating point (N, C, H, W) tensor, got ",
              input.sizes());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "detops.roi_align: output_size must be positive");
  check_rois(rois, input);
  const c10::cuda::CUDAGuard guard(input.device());
  const auto type = compute_type(input.scalar_type());
  const auto x = input.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const RoiAlignArgs a{x.size(0), x.size(1), x.size(2), x.size(3), pooled_height, pooled_width,
                       sampling_ratio, aligned, max_pool};
  auto output = at::zeros({r.size(0), a.channels, pooled_height, pooled_width}, x.options());
  auto argmax = max_pool ? at::full(output.sizes(), -1, x.options().dtype(at::kInt))
                         : at::empty({0}, x.options().dtype(at::kInt));
  const int64_t count = output.numel();
  if (count > 0 && a.height > 0 && a.width > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_align_cuda", [&] {
      forward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                 c10::cuda::getCurrentCUDAStream()>>>(
          count, x.const_data_ptr<scalar_t>(), r.const_data_ptr<scalar_t>(),
          static_cast<scalar_t>(spatial_scale), a, output.mutable_data_ptr<scalar_t>(),
          max_pool ? argmax.mutable_data_ptr<int32_t>() : nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return {output.to(input.scalar_type()), argmax};
}

at::Tensor roi_align_backward_cuda(const at::Tensor& grad_output, const at::Tensor& rois,
                                   const at::Tensor& argmax, double spatial_scale,
                                   int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                   int64_t channels, int64_t height, int64_t width,
                                   int64_t sampling_ratio, bool aligned, bool max_pool) {
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
                  grad_output.size(1) == channels && grad_output.size(2) == pooled_height &&
                  grad_output.size(3) == pooled_width,
              "detops.roi_align_backward: grad_output must be (K, C, PH, PW), got ",
              grad_output.sizes());
  TORCH_CHECK(!max_pool || (argmax.sizes() == grad_output.sizes() &&
                            argmax.scalar_type() == at::kInt &&
                            argmax.device() == grad_output.device()),
              "detops.roi_align_backward: argmax must be an int32 tensor like grad_output");
  check_rois(rois, grad_output);
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const auto type = compute_type(grad_output.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const auto best = argmax.contiguous();
  const RoiAlignArgs a{batch_size, channels, height, width, pooled_height, pooled_width,
                       sampling_ratio, aligned, max_pool};
  auto grad_input = at::zeros({batch_size, channels, height, width}, g.options());
  const int64_t count = g.numel();
  if (count > 0 && height > 0 && width > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_align_backward_cuda", [&] {
      backward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(
          count, g.const_data_ptr<scalar_t>(), r.const_data_ptr<scalar_t>(),
          static_cast<scalar_t>(spatial_scale), a,
          max_pool ? best.const_data_ptr<int32_t>() : nullptr,
          grad_input.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return grad_input.to(grad_output.scalar_type());
}

}  // namespace

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("roi_align", &roi_align_cuda);
  m.impl("roi_align_backward", &roi_align_backward_cuda);
}

}  // namespace detops
