// Bilinear sampling of multi-scale deformable attention, shared by the CPU kernels
// (ms_deform_attn.cpp) and the CUDA kernels (cuda/ms_deform_attn_cuda.cu), with MMCV's
// semantics: a location (x, y) in [0, 1] of a level of H x W pixels samples pixel coordinates
// (x * W - 0.5, y * H - 0.5); pixels off the map read zero, as F.grid_sample does with
// align_corners=False and zero padding.
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

// A sample's four corners (y0, x0), (y0, x1), (y1, x0), (y1, x1): their key indices in the
// flattened value sequence (-1 off the map) and bilinear weights.
template <typename T>
struct AttnSample {
  int64_t key[4];
  T weight[4];
  T ly, lx;
  bool any;  // false when the sample lies entirely off the map

  // d(sample)/dy and d(sample)/dx per unit of corner value
  DETOPS_HOST_DEVICE T weight_dy(int i) const {
    const T w = i % 2 ? lx : T(1) - lx;
    return i / 2 ? w : -w;
  }
  DETOPS_HOST_DEVICE T weight_dx(int i) const {
    const T w = i / 2 ? ly : T(1) - ly;
    return i % 2 ? w : -w;
  }
};

// level_start: index of the level's first pixel in the value sequence.
template <typename T>
DETOPS_HOST_DEVICE AttnSample<T> attn_sample(T loc_x, T loc_y, int64_t height, int64_t width,
                                             int64_t level_start) {
  AttnSample<T> s{{-1, -1, -1, -1}, {T(0), T(0), T(0), T(0)}, T(0), T(0), false};
  const T y = loc_y * static_cast<T>(height) - T(0.5);
  const T x = loc_x * static_cast<T>(width) - T(0.5);
  if (!(y > T(-1) && x > T(-1) && y < static_cast<T>(height) && x < static_cast<T>(width)))
    return s;  // also catches NaN locations
  const T y_floor = floor(y), x_floor = floor(x);
  const int64_t y0 = static_cast<int64_t>(y_floor), x0 = static_cast<int64_t>(x_floor);
  s.ly = y - y_floor;
  s.lx = x - x_floor;
  s.any = true;
  const T wy[2] = {T(1) - s.ly, s.ly}, wx[2] = {T(1) - s.lx, s.lx};
  for (int i = 0; i < 4; ++i) {
    const int64_t yy = y0 + i / 2, xx = x0 + i % 2;
    if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
    s.key[i] = level_start + yy * width + xx;
    s.weight[i] = wy[i / 2] * wx[i % 2];
  }
  return s;
}

}  // namespace detops
