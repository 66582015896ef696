// RoI Pool bin edges shared by the CPU kernels (roi_pool.cpp) and the CUDA kernels
// (cuda/roi_pool_cuda.cu), following torchvision.ops.roi_pool: the RoI is snapped to whole
// feature-map pixels (C's round, halves away from zero), forced to at least one pixel, and bin i
// of n covers pixels [floor(i * bin), ceil((i + 1) * bin)) from the RoI's start, clipped to
// the map.
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

// A box coordinate scaled onto the map and rounded; clipped first so the cast stays defined.
template <typename T>
DETOPS_HOST_DEVICE int64_t roi_pool_snap(T v, T spatial_scale) {
  T scaled = v * spatial_scale;
  scaled = scaled < T(-1e9) ? T(-1e9) : (scaled > T(1e9) ? T(1e9) : scaled);
  return static_cast<int64_t>(round(scaled));
}

// Pixel range [lo, hi) of bin `index` of `pooled` along an axis where the RoI spans the
// snapped coordinates [start, end] of a map `size` pixels long.
template <typename T>
DETOPS_HOST_DEVICE void roi_pool_bin(int64_t start, int64_t end, int64_t index, int64_t pooled,
                                     int64_t size, int64_t& lo, int64_t& hi) {
  const int64_t length = end - start + 1 > 1 ? end - start + 1 : 1;
  const T bin = static_cast<T>(length) / static_cast<T>(pooled);
  lo = static_cast<int64_t>(floor(static_cast<T>(index) * bin)) + start;
  hi = static_cast<int64_t>(ceil(static_cast<T>(index + 1) * bin)) + start;
  lo = lo < 0 ? 0 : (lo > size ? size : lo);
  hi = hi < 0 ? 0 : (hi > size ? size : hi);
}

}  // namespace detops
