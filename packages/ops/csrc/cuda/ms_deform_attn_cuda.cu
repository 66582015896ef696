// Multi-scale deformable attention on CUDA, same sampling as the CPU kernels
// (ms_deform_attn.h). Forward: one thread per output element (batch, query, head, channel).
// Backward: one thread per sample (batch, query, head, level, point), which loops over the
// channels to form the location and weight gradients and adds into grad_value atomically.
// Level shapes and starts are read on the device; corners whose key falls outside the value
// sequence are skipped, so inconsistent shapes cannot read out of bounds (the Python wrapper
// rejects them earlier).
#include <ATen/ATen.h>
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "../ms_deform_attn.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  return static_cast<int>(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535));
}

struct AttnArgs {
  int64_t batch, num_keys, heads, channels, queries, levels, points;
};

template <typename T>
__device__ AttnSample<T> sample_of(int64_t i, int64_t level, const T* locations,
                                   const int64_t* shapes, const int64_t* starts) {
  return attn_sample(locations[2 * i], locations[2 * i + 1], shapes[2 * level],
                     shapes[2 * level + 1], starts[level]);
}

template <typename T>
__global__ void forward_kernel(int64_t count, AttnArgs a, const T* value, const int64_t* shapes,
                               const int64_t* starts, const T* locations, const T* weights,
                               T* output) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t c = index % a.channels, bqh = index / a.channels;  // (b * Q + q) * H + h
    const int64_t h = bqh % a.heads, b = bqh / (a.heads * a.queries);
    const T* head_value = value + b * a.num_keys * a.heads * a.channels + h * a.channels + c;
    T sum = 0;
    for (int64_t level = 0; level < a.levels; ++level)
      for (int64_t p = 0; p < a.points; ++p) {
        const int64_t i = (bqh * a.levels + level) * a.points + p;
        const auto s = sample_of(i, level, locations, shapes, starts);
        for (int corner = 0; corner < 4; ++corner)
          if (s.key[corner] >= 0 && s.key[corner] < a.num_keys)
            sum += weights[i] * s.weight[corner] *
                   head_value[s.key[corner] * a.heads * a.channels];
      }
    output[index] = sum;
  }
}

template <typename T>
__global__ void backward_kernel(int64_t count, AttnArgs a, const T* grad_output, const T* value,
                                const int64_t* shapes, const int64_t* starts,
                                const T* locations, const T* weights, T* grad_value,
                                T* grad_locations, T* grad_weights) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t level = (i / a.points) % a.levels, bqh = i / (a.points * a.levels);
    const int64_t h = bqh % a.heads, b = bqh / (a.heads * a.queries);
    const auto s = sample_of(i, level, locations, shapes, starts);
    T grad_weight = 0, grad_y = 0, grad_x = 0;
    if (s.any) {
      const int64_t row_stride = a.heads * a.channels;
      const int64_t head = b * a.num_keys * row_stride + h * a.channels;
      const T* g = grad_output + bqh * a.channels;
      for (int corner = 0; corner < 4; ++corner) {
        if (s.key[corner] < 0 || s.key[corner] >= a.num_keys) continue;
        const T* row = value + head + s.key[corner] * row_stride;
        T* grad_row = grad_value + head + s.key[corner] * row_stride;
        const T w = weights[i] * s.weight[corner];
        T dot = 0;
        for (int64_t c = 0; c < a.channels; ++c) {
          dot += g[c] * row[c];
          gpuAtomicAdd(grad_row + c, w * g[c]);
        }
        grad_weight += s.weight[corner] * dot;
        grad_y += s.weight_dy(corner) * dot;
        grad_x += s.weight_dx(corner) * dot;
      }
    }
    grad_weights[i] = grad_weight;
    grad_locations[2 * i] = weights[i] * grad_x * static_cast<T>(shapes[2 * level + 1]);
    grad_locations[2 * i + 1] = weights[i] * grad_y * static_cast<T>(shapes[2 * level]);
  }
}

at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

AttnArgs check_args(const at::Tensor& value, const at::Tensor& spatial_shapes,
                    const at::Tensor& level_start_index, const at::Tensor& locations,
                    const at::Tensor& weights) {
  TORCH_CHECK(value.dim() == 4 && at::isFloatingType(value.scalar_type()),
              "detops.multi_scale_deformable_attn: value must be a floating point (bs, "
              "num_keys, num_heads, channels) tensor, got ", value.sizes());
  TORCH_CHECK(spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2 &&
                  level_start_index.dim() == 1 &&
                  level_start_index.size(0) == spatial_shapes.size(0),
              "detops.multi_scale_deformable_attn: value_spatial_shapes must be (L, 2) and "
              "value_level_start_index (L,)");
  AttnArgs a{value.size(0), value.size(1), value.size(2), value.size(3), 0,
             spatial_shapes.size(0), 0};
  TORCH_CHECK(locations.dim() == 6 && locations.size(0) == a.batch &&
                  locations.size(2) == a.heads && locations.size(3) == a.levels &&
                  locations.size(5) == 2 && weights.sizes() == locations.sizes().slice(0, 5),
              "detops.multi_scale_deformable_attn: sampling_locations must be (bs, num_queries, "
              "num_heads, num_levels, num_points, 2) and attention_weights the same without "
              "the last dimension, got ", locations.sizes(), " and ", weights.sizes());
  for (const at::Tensor* t : {&spatial_shapes, &level_start_index, &locations, &weights})
    TORCH_CHECK(t->device() == value.device(),
                "detops.multi_scale_deformable_attn: all tensors must be on ", value.device());
  a.queries = locations.size(1);
  a.points = locations.size(4);
  return a;
}

at::Tensor ms_deform_attn_cuda(const at::Tensor& value, const at::Tensor& spatial_shapes,
                               const at::Tensor& level_start_index, const at::Tensor& locations,
                               const at::Tensor& weights) {
  const auto a = check_args(value, spatial_shapes, level_start_index, locations, weights);
  const c10::cuda::CUDAGuard guard(value.device());
  const auto type = compute_type(value.scalar_type());
  const auto v = value.to(type).contiguous();
  const auto shapes = spatial_shapes.to(at::kLong).contiguous();
  const auto starts = level_start_index.to(at::kLong).contiguous();
  const auto loc = locations.to(type).contiguous();
  const auto w = weights.to(type).contiguous();
  auto output = at::zeros({a.batch, a.queries, a.heads * a.channels}, v.options());
  const int64_t count = output.numel();
  if (count > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_ms_deform_attn_cuda", [&] {
      forward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                 c10::cuda::getCurrentCUDAStream()>>>(
          count, a, v.const_data_ptr<scalar_t>(), shapes.const_data_ptr<int64_t>(),
          starts.const_data_ptr<int64_t>(), loc.const_data_ptr<scalar_t>(),
          w.const_data_ptr<scalar_t>(), output.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return output.to(value.scalar_type());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& value, const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index, const at::Tensor& locations, const at::Tensor& weights) {
  const auto a = check_args(value, spatial_shapes, level_start_index, locations, weights);
  TORCH_CHECK(grad_output.dim() == 3 && grad_output.size(0) == a.batch &&
                  grad_output.size(1) == a.queries &&
                  grad_output.size(2) == a.heads * a.channels &&
                  grad_output.device() == value.device(),
              "detops.multi_scale_deformable_attn_backward: grad_output must be (", a.batch,
              ", ", a.queries, ", ", a.heads * a.channels, "), got ", grad_output.sizes());
  const c10::cuda::CUDAGuard guard(value.device());
  const auto type = compute_type(value.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto v = value.to(type).contiguous();
  const auto shapes = spatial_shapes.to(at::kLong).contiguous();
  const auto starts = level_start_index.to(at::kLong).contiguous();
  const auto loc = locations.to(type).contiguous();
  const auto w = weights.to(type).contiguous();
  auto grad_value = at::zeros_like(v);
  auto grad_locations = at::zeros_like(loc);
  auto grad_weights = at::zeros_like(w);
  const int64_t count = w.numel();
  if (count > 0 && a.channels > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_ms_deform_attn_backward_cuda", [&] {
      backward_kernel<scalar_t><<<blocks_for(count), kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(
          count, a, g.const_data_ptr<scalar_t>(), v.const_data_ptr<scalar_t>(),
          shapes.const_data_ptr<int64_t>(), starts.const_data_ptr<int64_t>(),
          loc.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
          grad_value.mutable_data_ptr<scalar_t>(), grad_locations.mutable_data_ptr<scalar_t>(),
          grad_weights.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  return {grad_value.to(value.scalar_type()), grad_locations.to(locations.scalar_type()),
          grad_weights.to(weights.scalar_type())};
}

}  // namespace

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("ms_deform_attn", &ms_deform_attn_cuda);
  m.impl("ms_deform_attn_backward", &ms_deform_attn_backward_cuda);
}

}  // namespace detops
