// RoI Align (Mask R-CNN) on the CPU: each output bin pools a grid_h x grid_w grid of bilinear
// samples inside its RoI, by their average (torchvision.ops.roi_align) or their maximum
// (MMCV's pool_mode='max').
//
// The sample grid of a RoI is separable: a sample's row interpolation depends only on
// (ph, iy) and its column interpolation only on (pw, ix). Each RoI is therefore described by
// pooled_h * grid_h row samples and pooled_w * grid_w column samples, a few hundred bytes,
// which lets every thread walk all RoIs for one channel at a time while that channel's plane
// stays in its cache.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "roi_align.h"

namespace detops {
namespace {

struct RoiAlignParams {
  double spatial_scale;
  int64_t pooled_h, pooled_w, sampling_ratio;
  bool aligned, max_pool;

  int64_t bins() const { return pooled_h * pooled_w; }
};

// The samples of one RoI: rows[ph * grid_h + iy] and cols[pw * grid_w + ix].
template <typename T>
struct RoiSamples {
  int64_t batch_index = 0, grid_h = 0, grid_w = 0;
  std::vector<RoiAxisSample<T>> rows, cols;

  int64_t per_bin() const { return grid_h * grid_w; }
};

template <typename T>
RoiSamples<T> roi_samples(const T* roi, const RoiAlignParams& p, int64_t height, int64_t width) {
  const auto box = roi_align_box<T>(roi, static_cast<T>(p.spatial_scale), p.pooled_h, p.pooled_w,
                                    p.sampling_ratio, p.aligned);
  TORCH_CHECK(box.samples_per_bin() <= kRoiAlignMaxSamplesPerBin, "detops.roi_align: a RoI of ",
              box.bin_h * p.pooled_h, " x ", box.bin_w * p.pooled_w,
              " feature-map pixels would take over ", kRoiAlignMaxSamplesPerBin,
              " samples per bin; check the RoI coordinates and spatial_scale");
  RoiSamples<T> s;
  s.batch_index = static_cast<int64_t>(roi[0]);
  s.grid_h = box.grid_h;
  s.grid_w = box.grid_w;
  s.rows.resize(p.pooled_h * s.grid_h);
  s.cols.resize(p.pooled_w * s.grid_w);
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t iy = 0; iy < s.grid_h; ++iy)
      s.rows[ph * s.grid_h + iy] = roi_axis_sample(box.row(ph, iy), height);
  for (int64_t pw = 0; pw < p.pooled_w; ++pw)
    for (int64_t ix = 0; ix < s.grid_w; ++ix)
      s.cols[pw * s.grid_w + ix] = roi_axis_sample(box.col(pw, ix), width);
  return s;
}

template <typename T>
std::vector<RoiSamples<T>> all_roi_samples(const at::Tensor& rois, const RoiAlignParams& p,
                                           int64_t height, int64_t width) {
  std::vector<RoiSamples<T>> samples(rois.size(0));
  const T* data = rois.const_data_ptr<T>();
  at::parallel_for(0, rois.size(0), 64, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) samples[n] = roi_samples(data + n * 5, p, height, width);
  });
  return samples;
}

template <typename T>
void scatter_bilinear(T* plane, int64_t width, const RoiAxisSample<T>& y,
                      const RoiAxisSample<T>& x, T grad) {
  T* row_low = plane + y.low * width;
  T* row_high = plane + y.high * width;
  row_low[x.low] += (y.w_low * x.w_low) * grad;
  row_low[x.high] += (y.w_low * x.w_high) * grad;
  row_high[x.low] += (y.w_high * x.w_low) * grad;
  row_high[x.high] += (y.w_high * x.w_high) * grad;
}

// Pools every bin of one RoI on one channel plane into out[bins] (and winner[bins] in max
// mode: the index iy * grid_w + ix of the largest sample, -1 with value 0 for an empty bin).
template <typename T>
void pool_roi(const RoiSamples<T>& s, const RoiAlignParams& p, const T* plane, int64_t width,
              T* out, int32_t* winner) {
  const T count = static_cast<T>(std::max<int64_t>(s.per_bin(), 1));
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw) {
      T sum = 0, max_value = -std::numeric_limits<T>::infinity();
      int32_t max_index = -1;
      for (int64_t iy = 0; iy < s.grid_h; ++iy) {
        const auto& y = s.rows[ph * s.grid_h + iy];
        for (int64_t ix = 0; ix < s.grid_w; ++ix) {
          const T v = roi_bilinear(plane, width, y, s.cols[pw * s.grid_w + ix]);
          if (!p.max_pool) {
            sum += v;
          } else if (v > max_value) {
            max_value = v;
            max_index = static_cast<int32_t>(iy * s.grid_w + ix);
          }
        }
      }
      const int64_t b = ph * p.pooled_w + pw;
      if (p.max_pool) {
        out[b] = max_index < 0 ? T(0) : max_value;
        winner[b] = max_index;
      } else {
        out[b] = sum / count;
      }
    }
}

template <typename T>
void scatter_roi(const RoiSamples<T>& s, const RoiAlignParams& p, const T* grad,
                 const int32_t* winner, T* plane, int64_t width) {
  const T count = static_cast<T>(std::max<int64_t>(s.per_bin(), 1));
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw) {
      const int64_t b = ph * p.pooled_w + pw;
      if (p.max_pool) {
        if (winner[b] < 0) continue;
        const int64_t iy = winner[b] / s.grid_w, ix = winner[b] % s.grid_w;
        scatter_bilinear(plane, width, s.rows[ph * s.grid_h + iy], s.cols[pw * s.grid_w + ix],
                         grad[b]);
        continue;
      }
      const T g = grad[b] / count;
      for (int64_t iy = 0; iy < s.grid_h; ++iy)
        for (int64_t ix = 0; ix < s.grid_w; ++ix)
          scatter_bilinear(plane, width, s.rows[ph * s.grid_h + iy], s.cols[pw * s.grid_w + ix],
                           g);
    }
}

// Parallel over (channel, RoI) pairs in channel-major order, so each thread reads one plane
// for many RoIs in a row.
template <typename T>
void forward_kernel(const at::Tensor& input, const at::Tensor& rois, const RoiAlignParams& p,
                    at::Tensor& output, at::Tensor& argmax) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t num_rois = rois.size(0), bins = p.bins();
  const auto samples = all_roi_samples<T>(rois, p, height, width);
  const T* in = input.const_data_ptr<T>();
  T* out = output.mutable_data_ptr<T>();
  int32_t* winners = p.max_pool ? argmax.mutable_data_ptr<int32_t>() : nullptr;
  at::parallel_for(0, channels * num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t c = i / num_rois, n = i % num_rois;
      const auto& s = samples[n];
      const int64_t o = (n * channels + c) * bins;
      pool_roi(s, p, in + (s.batch_index * channels + c) * height * width, width, out + o,
               p.max_pool ? winners + o : nullptr);
    }
  });
}

// Parallel over channels only: RoIs of one image overlap, so two threads must never share a
// grad_input plane.
template <typename T>
void backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois,
                     const at::Tensor& argmax, const RoiAlignParams& p, at::Tensor& grad_input) {
  const int64_t channels = grad_input.size(1), height = grad_input.size(2),
                width = grad_input.size(3);
  const int64_t num_rois = rois.size(0), bins = p.bins();
  const auto samples = all_roi_samples<T>(rois, p, height, width);
  const T* grad = grad_output.const_data_ptr<T>();
  const int32_t* winners = p.max_pool ? argmax.const_data_ptr<int32_t>() : nullptr;
  T* grad_in = grad_input.mutable_data_ptr<T>();
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      for (int64_t n = 0; n < num_rois; ++n) {
        const auto& s = samples[n];
        const int64_t o = (n * channels + c) * bins;
        scatter_roi(s, p, grad + o, p.max_pool ? winners + o : nullptr,
                    grad_in + (s.batch_index * channels + c) * height * width, width);
      }
  });
}

// float16 and bfloat16 are computed in float32; the kernels are instantiated for float/double.
at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

void check_rois(const at::Tensor& rois, int64_t batch_size) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "detops.roi_align: rois must be (K, 5) [batch_index, x1, y1, x2, y2], got ",
              rois.sizes());
  TORCH_CHECK(at::isFloatingType(rois.scalar_type()),
              "detops.roi_align: rois must be floating point, got ", rois.scalar_type());
  if (rois.size(0) == 0) return;
  TORCH_CHECK(at::isfinite(rois).all().item<bool>(),
              "detops.roi_align: rois contain NaN or infinite values");
  const auto index = rois.select(1, 0);
  TORCH_CHECK(index.min().item<double>() >= 0 && index.max().item<double>() < batch_size,
              "detops.roi_align: rois[:, 0] must be batch indices in [0, ", batch_size, ")");
}

std::tuple<at::Tensor, at::Tensor> roi_align_cpu(const at::Tensor& input, const at::Tensor& rois,
                                                 double spatial_scale, int64_t pooled_height,
                                                 int64_t pooled_width, int64_t sampling_ratio,
                                                 bool aligned, bool max_pool) {
  TORCH_CHECK(input.dim() == 4, "detops.roi_align: input must be (N, C, H, W), got ",
              input.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()),
              "detops.roi_align: input must be floating point, got ", input.scalar_type());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "detops.roi_align: output_size must be positive");
  check_rois(rois, input.size(0));
  const auto type = compute_type(input.scalar_type());
  const auto x = input.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const RoiAlignParams p{spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned,
                         max_pool};
  auto output = at::zeros({r.size(0), x.size(1), pooled_height, pooled_width}, x.options());
  auto argmax = max_pool ? at::full(output.sizes(), -1, x.options().dtype(at::kInt))
                         : at::empty({0}, x.options().dtype(at::kInt));
  if (output.numel() > 0 && x.size(2) > 0 && x.size(3) > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_align",
                               [&] { forward_kernel<scalar_t>(x, r, p, output, argmax); });
  return {output.to(input.scalar_type()), argmax};
}

at::Tensor roi_align_backward_cpu(const at::Tensor& grad_output, const at::Tensor& rois,
                                  const at::Tensor& argmax, double spatial_scale,
                                  int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                  int64_t channels, int64_t height, int64_t width,
                                  int64_t sampling_ratio, bool aligned, bool max_pool) {
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
                  grad_output.size(1) == channels && grad_output.size(2) == pooled_height &&
                  grad_output.size(3) == pooled_width,
              "detops.roi_align_backward: grad_output must be (K, C, PH, PW), got ",
              grad_output.sizes());
  TORCH_CHECK(!max_pool || argmax.sizes() == grad_output.sizes(),
              "detops.roi_align_backward: argmax must match grad_output in max mode");
  check_rois(rois, batch_size);
  const auto type = compute_type(grad_output.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto r = rois.to(type).contiguous();
  const auto a = argmax.contiguous();
  const RoiAlignParams p{spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned,
                         max_pool};
  auto grad_input = at::zeros({batch_size, channels, height, width}, g.options());
  if (g.numel() > 0 && height > 0 && width > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_roi_align_backward",
                               [&] { backward_kernel<scalar_t>(g, r, a, p, grad_input); });
  return grad_input.to(grad_output.scalar_type());
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def(
      "roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio, bool aligned, bool max_pool) -> (Tensor, Tensor)");
  m.def(
      "roi_align_backward(Tensor grad_output, Tensor rois, Tensor argmax, float spatial_scale, "
      "int pooled_height, int pooled_width, int batch_size, int channels, int height, int width, "
      "int sampling_ratio, bool aligned, bool max_pool) -> Tensor");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("roi_align", &roi_align_cpu);
  m.impl("roi_align_backward", &roi_align_backward_cpu);
}

}  // namespace detops
