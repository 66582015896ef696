// RoI Align geometry shared by the CPU kernels (roi_align.cpp) and the CUDA kernels
// (cuda/roi_align_cuda.cu), following torchvision.ops.roi_align:
//   a RoI [x1, y1, x2, y2] * spatial_scale (- 0.5 when aligned) is split into
//   pooled_h x pooled_w bins; bin (ph, pw) averages (or, in max mode, maximises) a
//   grid_h x grid_w grid of bilinear samples at
//   y = start_h + ph * bin_h + (iy + 0.5) * bin_h / grid_h   (x likewise).
// The grid is separable, so a sample is the product of a row and a column interpolation.
#pragma once

#include <cmath>
#include <cstdint>

#ifndef DETOPS_HOST_DEVICE
#ifdef __CUDACC__
#define DETOPS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DETOPS_HOST_DEVICE inline
#endif
#endif

namespace detops {

// Guards against absurd RoIs (e.g. unscaled coordinates of 1e9): a RoI whose adaptive grid
// would exceed this many samples per bin is rejected on the CPU and pooled as zeros on CUDA.
constexpr int64_t kRoiAlignMaxSamplesPerBin = int64_t(1) << 20;

// Linear interpolation along one axis: the two neighbouring indices and their weights.
// Positions outside the map get zero weights at index 0, so reading them is always safe.
template <typename T>
struct RoiAxisSample {
  int64_t low, high;
  T w_low, w_high;
};

// torchvision's rule: positions more than one pixel outside the map read 0; positions in the
// border band are clamped onto the edge pixels.
template <typename T>
DETOPS_HOST_DEVICE RoiAxisSample<T> roi_axis_sample(T v, int64_t size) {
  RoiAxisSample<T> s{0, 0, T(0), T(0)};
  if (v < T(-1) || v > static_cast<T>(size)) return s;
  if (v < T(0)) v = T(0);
  s.low = static_cast<int64_t>(v);
  if (s.low >= size - 1) {
    s.low = s.high = size - 1;
    v = static_cast<T>(s.low);
  } else {
    s.high = s.low + 1;
  }
  s.w_high = v - static_cast<T>(s.low);
  s.w_low = T(1) - s.w_high;
  return s;
}

// Where the bins of one RoI lie on the feature map, in feature-map pixels.
template <typename T>
struct RoiAlignBox {
  T start_h, start_w, bin_h, bin_w;
  int64_t grid_h, grid_w;  // samples per bin along each axis

  DETOPS_HOST_DEVICE int64_t samples_per_bin() const { return grid_h * grid_w; }
  DETOPS_HOST_DEVICE T row(int64_t ph, int64_t iy) const {
    return start_h + static_cast<T>(ph) * bin_h +
           (static_cast<T>(iy) + T(0.5)) * bin_h / static_cast<T>(grid_h);
  }
  DETOPS_HOST_DEVICE T col(int64_t pw, int64_t ix) const {
    return start_w + static_cast<T>(pw) * bin_w +
           (static_cast<T>(ix) + T(0.5)) * bin_w / static_cast<T>(grid_w);
  }
};

// Adaptive grid (sampling_ratio <= 0): ceil(bin size) samples, none for an inverted RoI;
// capped before the integer cast so that absurd sizes stay defined.
template <typename T>
DETOPS_HOST_DEVICE int64_t roi_align_adaptive_grid(T bin) {
  const T cap = static_cast<T>(kRoiAlignMaxSamplesPerBin + 1);
  return static_cast<int64_t>(ceil(bin < T(0) ? T(0) : (bin > cap ? cap : bin)));
}

// roi: [batch_index, x1, y1, x2, y2].
template <typename T>
DETOPS_HOST_DEVICE RoiAlignBox<T> roi_align_box(const T* roi, T spatial_scale, int64_t pooled_h,
                                                int64_t pooled_w, int64_t sampling_ratio,
                                                bool aligned) {
  const T offset = aligned ? T(0.5) : T(0);
  RoiAlignBox<T> box;
  box.start_w = roi[1] * spatial_scale - offset;
  box.start_h = roi[2] * spatial_scale - offset;
  T width = roi[3] * spatial_scale - offset - box.start_w;
  T height = roi[4] * spatial_scale - offset - box.start_h;
  if (!aligned) {  // legacy behaviour: malformed RoIs are forced to be at least 1x1
    width = width > T(1) ? width : T(1);
    height = height > T(1) ? height : T(1);
  }
  box.bin_h = height / static_cast<T>(pooled_h);
  box.bin_w = width / static_cast<T>(pooled_w);
  box.grid_h = sampling_ratio > 0 ? sampling_ratio : roi_align_adaptive_grid(box.bin_h);
  box.grid_w = sampling_ratio > 0 ? sampling_ratio : roi_align_adaptive_grid(box.bin_w);
  return box;
}

template <typename T>
DETOPS_HOST_DEVICE T roi_bilinear(const T* plane, int64_t width, const RoiAxisSample<T>& y,
                                  const RoiAxisSample<T>& x) {
  const T* row_low = plane + y.low * width;
  const T* row_high = plane + y.high * width;
  return (y.w_low * x.w_low) * row_low[x.low] + (y.w_low * x.w_high) * row_low[x.high] +
         (y.w_high * x.w_low) * row_high[x.low] + (y.w_high * x.w_high) * row_high[x.high];
}

}  // namespace detops
