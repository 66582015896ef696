// Multi-scale deformable attention (Deformable DETR) on the CPU, with MMCV's semantics:
//   out[b, q, h, :] = sum over levels l and points p of
//       attention_weights[b, q, h, l, p] * bilinear(value level l, head h, at sampling_locations[b, q, h, l, p])
// where a location (x, y) in [0, 1] maps to pixel (x * W_l - 0.5, y * H_l - 0.5) and pixels
// outside the map read zero (grid_sample with align_corners=False and zero padding; see
// ms_deform_attn.h).
// Value rows are (channels,) vectors, so every sample is a handful of contiguous vector updates.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "ms_deform_attn.h"

namespace detops {
namespace {

struct AttnGeometry {
  int64_t batch, num_keys, heads, channels, queries, levels, points;
  std::vector<int64_t> level_h, level_w, level_start;
};

// Parallel over (batch, query): each output row is written by one thread.
template <typename T>
void forward_kernel(const AttnGeometry& ag, const at::Tensor& value, const at::Tensor& locations,
                    const at::Tensor& weights, at::Tensor& output) {
  const T* val = value.const_data_ptr<T>();
  const T* loc = locations.const_data_ptr<T>();
  const T* attn = weights.const_data_ptr<T>();
  T* out = output.mutable_data_ptr<T>();
  const int64_t C = ag.channels, row_stride = ag.heads * C;
  at::parallel_for(0, ag.batch * ag.queries, 16, [&](int64_t begin, int64_t end) {
    for (int64_t bq = begin; bq < end; ++bq) {
      const int64_t b = bq / ag.queries;
      for (int64_t h = 0; h < ag.heads; ++h) {
        T* o = out + (bq * ag.heads + h) * C;
        const T* head_value = val + b * ag.num_keys * row_stride + h * C;
        const int64_t first = (bq * ag.heads + h) * ag.levels * ag.points;
        for (int64_t l = 0; l < ag.levels; ++l)
          for (int64_t p = 0; p < ag.points; ++p) {
            const int64_t i = first + l * ag.points + p;
            const auto s = attn_sample(loc[2 * i], loc[2 * i + 1], ag.level_h[l], ag.level_w[l],
                                         ag.level_start[l]);
            for (int corner = 0; corner < 4; ++corner) {
              if (s.key[corner] < 0) continue;
              const T w = attn[i] * s.weight[corner];
              const T* row = head_value + s.key[corner] * row_stride;
              for (int64_t c = 0; c < C; ++c) o[c] += w * row[c];
            }
          }
      }
    }
  });
}

// Parallel over (batch, head): the value rows of one (batch, head) receive gradient only from
// that pair's queries, so no two threads add into the same grad_value element.
template <typename T>
void backward_kernel(const AttnGeometry& ag, const at::Tensor& grad_output,
                     const at::Tensor& value, const at::Tensor& locations,
                     const at::Tensor& weights, at::Tensor& grad_value,
                     at::Tensor& grad_locations, at::Tensor& grad_weights) {
  const T* g_out = grad_output.const_data_ptr<T>();
  const T* val = value.const_data_ptr<T>();
  const T* loc = locations.const_data_ptr<T>();
  const T* attn = weights.const_data_ptr<T>();
  T* g_val = grad_value.mutable_data_ptr<T>();
  T* g_loc = grad_locations.mutable_data_ptr<T>();
  T* g_attn = grad_weights.mutable_data_ptr<T>();
  const int64_t C = ag.channels, row_stride = ag.heads * C;
  at::parallel_for(0, ag.batch * ag.heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / ag.heads, h = bh % ag.heads;
      const T* head_value = val + b * ag.num_keys * row_stride + h * C;
      T* head_grad = g_val + b * ag.num_keys * row_stride + h * C;
      for (int64_t q = 0; q < ag.queries; ++q) {
        const int64_t bqh = (b * ag.queries + q) * ag.heads + h;
        const T* g = g_out + bqh * C;
        for (int64_t l = 0; l < ag.levels; ++l)
          for (int64_t p = 0; p < ag.points; ++p) {
            const int64_t i = (bqh * ag.levels + l) * ag.points + p;
            const auto s = attn_sample(loc[2 * i], loc[2 * i + 1], ag.level_h[l], ag.level_w[l],
                                         ag.level_start[l]);
            if (!s.any) continue;
            T grad_attn = 0, grad_y = 0, grad_x = 0;
            for (int corner = 0; corner < 4; ++corner) {
              if (s.key[corner] < 0) continue;
              const T* row = head_value + s.key[corner] * row_stride;
              T* grad_row = head_grad + s.key[corner] * row_stride;
              const T w = attn[i] * s.weight[corner];
              T dot = 0;
              for (int64_t c = 0; c < C; ++c) {
                dot += g[c] * row[c];
                grad_row[c] += w * g[c];
              }
              grad_attn += s.weight[corner] * dot;
              grad_y += s.weight_dy(corner) * dot;
              grad_x += s.weight_dx(corner) * dot;
            }
            g_attn[i] = grad_attn;
            g_loc[2 * i] = attn[i] * grad_x * static_cast<T>(ag.level_w[l]);
            g_loc[2 * i + 1] = attn[i] * grad_y * static_cast<T>(ag.level_h[l]);
          }
      }
    }
  });
}

// float16 and bfloat16 are computed in float32; the kernels are instantiated for float/double.
at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

AttnGeometry check_geometry(const at::Tensor& value, const at::Tensor& spatial_shapes,
                            const at::Tensor& level_start_index, const at::Tensor& locations,
                            const at::Tensor& weights) {
  TORCH_CHECK(value.dim() == 4,
              "detops.multi_scale_deformable_attn: value must be (bs, num_keys, num_heads, "
              "channels), got ", value.sizes());
  TORCH_CHECK(spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2 &&
                  !at::isFloatingType(spatial_shapes.scalar_type()),
              "detops.multi_scale_deformable_attn: value_spatial_shapes must be an integer "
              "(num_levels, 2) tensor of (H, W), got ", spatial_shapes.sizes());
  AttnGeometry ag;
  ag.batch = value.size(0);
  ag.num_keys = value.size(1);
  ag.heads = value.size(2);
  ag.channels = value.size(3);
  ag.levels = spatial_shapes.size(0);
  TORCH_CHECK(locations.dim() == 6 && locations.size(0) == ag.batch &&
                  locations.size(2) == ag.heads && locations.size(3) == ag.levels &&
                  locations.size(5) == 2,
              "detops.multi_scale_deformable_attn: sampling_locations must be (", ag.batch,
              ", num_queries, ", ag.heads, ", ", ag.levels, ", num_points, 2), got ",
              locations.sizes());
  ag.queries = locations.size(1);
  ag.points = locations.size(4);
  TORCH_CHECK(weights.sizes() == locations.sizes().slice(0, 5),
              "detops.multi_scale_deformable_attn: attention_weights must be ",
              locations.sizes().slice(0, 5), ", got ", weights.sizes());
  TORCH_CHECK(level_start_index.dim() == 1 && level_start_index.size(0) == ag.levels,
              "detops.multi_scale_deformable_attn: value_level_start_index must be (", ag.levels,
              ",), got ", level_start_index.sizes());
  const auto shapes = spatial_shapes.to(at::kCPU, at::kLong).contiguous();
  const auto starts = level_start_index.to(at::kCPU, at::kLong).contiguous();
  int64_t keys = 0;
  for (int64_t l = 0; l < ag.levels; ++l) {
    const int64_t h = shapes.const_data_ptr<int64_t>()[2 * l];
    const int64_t w = shapes.const_data_ptr<int64_t>()[2 * l + 1];
    TORCH_CHECK(h >= 0 && w >= 0, "detops.multi_scale_deformable_attn: level ", l,
                " has a negative spatial shape");
    TORCH_CHECK(starts.const_data_ptr<int64_t>()[l] == keys,
                "detops.multi_scale_deformable_attn: value_level_start_index[", l, "] must be ",
                keys, " (the sum of H * W of the levels before it)");
    ag.level_h.push_back(h);
    ag.level_w.push_back(w);
    ag.level_start.push_back(keys);
    keys += h * w;
  }
  TORCH_CHECK(keys == ag.num_keys, "detops.multi_scale_deformable_attn: value has ", ag.num_keys,
              " keys but value_spatial_shapes sum to ", keys);
  return ag;
}

at::Tensor ms_deform_attn_cpu(const at::Tensor& value, const at::Tensor& spatial_shapes,
                              const at::Tensor& level_start_index, const at::Tensor& locations,
                              const at::Tensor& weights) {
  const auto ag = check_geometry(value, spatial_shapes, level_start_index, locations, weights);
  const auto type = compute_type(value.scalar_type());
  TORCH_CHECK(at::isFloatingType(type),
              "detops.multi_scale_deformable_attn: value must be floating point");
  const auto v = value.to(type).contiguous();
  const auto loc = locations.to(type).contiguous();
  const auto w = weights.to(type).contiguous();
  auto output = at::zeros({ag.batch, ag.queries, ag.heads * ag.channels}, v.options());
  if (output.numel() > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_ms_deform_attn",
                               [&] { forward_kernel<scalar_t>(ag, v, loc, w, output); });
  return output.to(value.scalar_type());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& value, const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index, const at::Tensor& locations, const at::Tensor& weights) {
  const auto ag = check_geometry(value, spatial_shapes, level_start_index, locations, weights);
  TORCH_CHECK(grad_output.dim() == 3 && grad_output.size(0) == ag.batch &&
                  grad_output.size(1) == ag.queries &&
                  grad_output.size(2) == ag.heads * ag.channels,
              "detops.multi_scale_deformable_attn_backward: grad_output must be (", ag.batch,
              ", ", ag.queries, ", ", ag.heads * ag.channels, "), got ", grad_output.sizes());
  const auto type = compute_type(value.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto v = value.to(type).contiguous();
  const auto loc = locations.to(type).contiguous();
  const auto w = weights.to(type).contiguous();
  auto grad_value = at::zeros_like(v);
  auto grad_locations = at::zeros_like(loc);
  auto grad_weights = at::zeros_like(w);
  if (g.numel() > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_ms_deform_attn_backward", [&] {
      backward_kernel<scalar_t>(ag, g, v, loc, w, grad_value, grad_locations, grad_weights);
    });
  return {grad_value.to(value.scalar_type()), grad_locations.to(locations.scalar_type()),
          grad_weights.to(weights.scalar_type())};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def(
      "ms_deform_attn(Tensor value, Tensor spatial_shapes, Tensor level_start_index, "
      "Tensor sampling_locations, Tensor attention_weights) -> Tensor");
  m.def(
      "ms_deform_attn_backward(Tensor grad_output, Tensor value, Tensor spatial_shapes, "
      "Tensor level_start_index, Tensor sampling_locations, Tensor attention_weights) "
      "-> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("ms_deform_attn", &ms_deform_attn_cpu);
  m.impl("ms_deform_attn_backward", &ms_deform_attn_backward_cpu);
}

}  // namespace detops
