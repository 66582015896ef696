// RoI Pool (Fast R-CNN) on the CPU: the RoI is snapped to whole feature-map pixels, split into
// pooled_h x pooled_w bins (roi_pool.h), and each bin keeps its maximum
// (torchvision.ops.roi_pool). The bin edges of a RoI are separable (rows depend on ph,
// columns on pw), so they are computed once per RoI; threads then walk all RoIs one channel
// at a time, keeping that plane in cache.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "roi_pool.h"

namespace detops {
namespace {

// Half-open pixel ranges [start, end) of every bin row and column of one RoI, clipped to the map.
struct RoiBins {
  int64_t batch_index = 0;
  std::vector<int64_t> row_start, row_end, col_start, col_end;
};

template <typename T>
RoiBins roi_bins(const T* roi, T spatial_scale, int64_t pooled_h, int64_t pooled_w,
                 int64_t height, int64_t width) {
  RoiBins bins;
  bins.batch_index = static_cast<int64_t>(roi[0]);
  const int64_t start_w = roi_pool_snap(roi[1], spatial_scale);
  const int64_t start_h = roi_pool_snap(roi[2], spatial_scale);
  const int64_t end_w = roi_pool_snap(roi[3], spatial_scale);
  const int64_t end_h = roi_pool_snap(roi[4], spatial_scale);
  bins.row_start.resize(pooled_h);
  bins.row_end.resize(pooled_h);
  bins.col_start.resize(pooled_w);
  bins.col_end.resize(pooled_w);
  for (int64_t i = 0; i < pooled_h; ++i)
    roi_pool_bin<T>(start_h, end_h, i, pooled_h, height, bins.row_start[i], bins.row_end[i]);
  for (int64_t i = 0; i < pooled_w; ++i)
    roi_pool_bin<T>(start_w, end_w, i, pooled_w, width, bins.col_start[i], bins.col_end[i]);
  return bins;
}

template <typename T>
std::vector<RoiBins> all_roi_bins(const at::Tensor& rois, double spatial_scale, int64_t pooled_h,
                                  int64_t pooled_w, int64_t height, int64_t width) {
  std::vector<RoiBins> bins(rois.size(0));
  const T* data = rois.const_data_ptr<T>();
  at::parallel_for(0, rois.size(0), 64, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      bins[n] = roi_bins(data + n * 5, static_cast<T>(spatial_scale), pooled_h, pooled_w, height,
                         width);
  });
  return bins;
}

// Max of every bin of one RoI on one plane; argmax holds the flat position h * W + w of the
// maximum, and an empty bin gives 0 with argmax -1.
template <typename T>
void pool_roi(const RoiBins& r, const T* plane, int64_t width, T* out, int32_t* argmax) {
  const int64_t pooled_h = static_cast<int64_t>(r.row_start.size());
  const int64_t pooled_w = static_cast<int64_t>(r.col_start.size());
  for (int64_t ph = 0; ph < pooled_h; ++ph)
    for (int64_t pw = 0; pw < pooled_w; ++pw) {
      const bool empty = r.row_end[ph] <= r.row_start[ph] || r.col_end[pw] <= r.col_start[pw];
      T max_value = empty ? T(0) : std::numeric_limits<T>::lowest();
      int64_t max_index = -1;
      for (int64_t h = r.row_start[ph]; h < r.row_end[ph]; ++h)
        for (int64_t w = r.col_start[pw]; w < r.col_end[pw]; ++w)
          if (plane[h * width + w] > max_value) {
            max_value = plane[h * width + w];
            max_index = h * width + w;
          }
      out[ph * pooled_w + pw] = max_value;
      argmax[ph * pooled_w + pw] = static_cast<int32_t>(max_index);
    }
}

template <typename T>
void forward_kernel(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    at::Tensor& output, at::Tensor& argmax) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t num_rois = rois.size(0), pooled_h = output.size(2), pooled_w = output.size(3);
  const int64_t bins = pooled_h * pooled_w;
  const auto roi_bins = all_roi_bins<T>(rois, spatial_scale, pooled_h, pooled_w, height, width);
  const T* in = input.const_data_ptr<T>();
  T* out = output.mutable_data_ptr<T>();
  int32_t* arg = argmax.mutable_data_ptr<int32_t>();
  // (channel, RoI) pairs in channel-major order: a thread reads one plane for many RoIs
  at::parallel_for(0, channels * num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t c = i / num_rois, n = i % num_rois;
      const auto& r = roi_bins[n];
      const int64_t o = (n * channels + c) * bins;
      pool_roi(r, in + (r.batch_index * channels + c) * height * width, width, out + o, arg + o);
    }
  });
}

// Parallel over channels only, so two threads never add into the same grad_input plane.
template <typename T>
void backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois,
                     const at::Tensor& argmax, at::Tensor& grad_input) {
  const int64_t channels = grad_input.size(1), plane_size = grad_input.size(2) * grad_input.size(3);
  const int64_t num_rois = rois.size(0), bins = grad_output.size(2) * grad_output.size(3);
  const T* roi_data = rois.const_data_ptr<T>();
  const T* grad = grad_output.const_data_ptr<T>();
  const int32_t* arg = argmax.const_data_ptr<int32_t>();
  T* grad_in = grad_input.mutable_data_ptr<T>();
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      for (int64_t n = 0; n < num_rois; ++n) {
        const int64_t batch_index = static_cast<int64_t>(roi_data[n * 5]);
        T* plane = grad_in + (batch_index * channels + c) * plane_size;
        const int64_t o = (n * channels + c) * bins;
        for (int64_t b = 0; b < bins; ++b)
          if (arg[o + b] >= 0) plane[arg[o + b]] += grad[o + b];
      }
  });
}

// float16 and bfloat16 are computed in float32; the kernels are instantiated for float/double.
at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

void check_rois(const at::Tensor& rois, int64_t batch_size) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "detops.roi_pool: rois must be (K, 5) [batch_index, x1, y1, x2, y2], got ",
              rois.sizes());
  TORCH_CHECK(at::isFloatingType(rois.scalar_type()),
              "detops.roi_pool: rois must be floating point, got ", rois.scalar_type());
  if (rois.size(0) == 0) return;
  TORCH_CHECK(at::isfinite(rois).all().item<bool>(),
              "detops.roi_pool: rois contain NaN or infinite values");
  const auto index = rois.select(1, 0);
  TORCH_CHECK(index.min().item<double>() >= 0 && index.max().item<double>() < batch_size,
              "detops.roi_pool: rois[:, 0] must be batch indices in [0, ", batch_size, ")");
}

std::tuple<at::Tensor, at::Tensor> roi_pool_cpu(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width) {
  TORCH_CHECK(input.dim() == 4, "detops.roi_pool: input must be (N, C, H, W), got ",
              input.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()),
              "detops.roi_pool: input must be floating point, got ", input.scalar_type());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "detops.roi_pool: output_size must be positive");
  TORCH_CHECK(input.size(2) * input.size(3) < std::numeric_limits<int32_t>::max(),
              "detops.roi_pool: feature maps above 2^31 pixels are not supported");
  check_rois(rois, input.size(0));
  const auto type = compute_type(input.scalar_type());
  const auto x = input.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  auto output = at::zeros({r.size(0), x.size(1), pooled_height, pooled_width}, x.options());
  auto argmax = at::full(output.sizes(), -1, x.options().dtype(at::kInt));
  if (output.numel() > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_pool", [&] {
      forward_kernel<scalar_t>(x, r, spatial_scale, output, argmax);
    });
  return {output.to(input.scalar_type()), argmax};
}

at::Tensor roi_pool_backward_cpu(const at::Tensor& grad_output, const at::Tensor& rois,
                                 const at::Tensor& argmax, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width) {
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
                  grad_output.size(1) == channels && argmax.sizes() == grad_output.sizes(),
              "detops.roi_pool_backward: grad_output and argmax must be (K, C, PH, PW), got ",
              grad_output.sizes(), " and ", argmax.sizes());
  TORCH_CHECK(argmax.scalar_type() == at::kInt, "detops.roi_pool_backward: argmax must be int32");
  check_rois(rois, batch_size);
  if (argmax.numel() > 0)
    TORCH_CHECK(argmax.max().item<int64_t>() < height * width,
                "detops.roi_pool_backward: argmax points outside the feature map");
  const auto type = compute_type(grad_output.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  auto grad_input = at::zeros({batch_size, channels, height, width}, g.options());
  if (g.numel() > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_pool_backward", [&] {
      backward_kernel<scalar_t>(g, r, argmax.contiguous(), grad_input);
    });
  return grad_input.to(grad_output.scalar_type());
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def(
      "roi_pool(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width) -> (Tensor, Tensor)");
  m.def(
      "roi_pool_backward(Tensor grad_output, Tensor rois, Tensor argmax, int batch_size, "
      "int channels, int height, int width) -> Tensor");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("roi_pool", &roi_pool_cpu);
  m.impl("roi_pool_backward", &roi_pool_backward_cpu);
}

}  // namespace detops
