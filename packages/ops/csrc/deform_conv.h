// Bilinear sampling of deformable convolution, shared by the CPU kernels (deform_conv.cpp) and
// the CUDA kernels (cuda/deform_conv_cuda.cu), following torchvision.ops.deform_conv2d: a
// sample at (y, x) reads its four neighbouring pixels, pixels off the map read zero, and a
// sample with y <= -1, y >= H, x <= -1 or x >= W reads zero altogether.
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

// One modulated bilinear sample: corners (y0, x0), (y0, x1), (y1, x0), (y1, x1).
template <typename T>
struct DeformSample {
  int32_t pos[4];   // flat positions h * W + w; 0 for corners off the map
  T weight[4];      // bilinear weight times mask; 0 for corners off the map
  T ly, lx;         // fractional parts of y and x, for the offset gradient
  T mask;
  uint8_t inside;   // bit i set when corner i lies on the map

  DETOPS_HOST_DEVICE T read(const T* plane) const {
    return weight[0] * plane[pos[0]] + weight[1] * plane[pos[1]] + weight[2] * plane[pos[2]] +
           weight[3] * plane[pos[3]];
  }
  DETOPS_HOST_DEVICE T corner(const T* plane, int i) const {
    return ((inside >> i) & 1) ? plane[pos[i]] : T(0);
  }
};

template <typename T>
DETOPS_HOST_DEVICE DeformSample<T> deform_sample(T y, T x, T mask, int64_t height,
                                                 int64_t width) {
  DeformSample<T> s{{0, 0, 0, 0}, {T(0), T(0), T(0), T(0)}, T(0), T(0), mask, 0};
  if (!(y > T(-1) && y < static_cast<T>(height) && x > T(-1) && x < static_cast<T>(width)))
    return s;  // also catches NaN positions
  const T y_floor = floor(y), x_floor = floor(x);
  const int64_t y0 = static_cast<int64_t>(y_floor), x0 = static_cast<int64_t>(x_floor);
  s.ly = y - y_floor;
  s.lx = x - x_floor;
  const T wy[2] = {T(1) - s.ly, s.ly}, wx[2] = {T(1) - s.lx, s.lx};
  for (int i = 0; i < 4; ++i) {
    const int64_t yy = y0 + i / 2, xx = x0 + i % 2;
    if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
    s.inside |= static_cast<uint8_t>(1 << i);
    s.pos[i] = static_cast<int32_t>(yy * width + xx);
    s.weight[i] = wy[i / 2] * wx[i % 2] * mask;
  }
  return s;
}

// Where tap (i, j) of output pixel (out_y, out_x) samples before its offset is added.
struct DeformConvGrid {
  int64_t out_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;

  DETOPS_HOST_DEVICE int64_t base_y(int64_t pixel, int64_t i) const {
    return (pixel / out_w) * stride_h - pad_h + i * dilation_h;
  }
  DETOPS_HOST_DEVICE int64_t base_x(int64_t pixel, int64_t j) const {
    return (pixel % out_w) * stride_w - pad_w + j * dilation_w;
  }
};

// One channel's contribution to the gradients of a sample's position and mask, given that
// channel's column gradient: d/dy and d/dx of (mask * sample), and d/dmask of it.
template <typename T>
struct DeformSampleGrad {
  T dy, dx, dmask;
};

template <typename T>
DETOPS_HOST_DEVICE DeformSampleGrad<T> deform_sample_grad(const DeformSample<T>& s,
                                                          const T* plane, T grad) {
  const T v0 = s.corner(plane, 0), v1 = s.corner(plane, 1), v2 = s.corner(plane, 2),
          v3 = s.corner(plane, 3);
  const T hy = T(1) - s.ly, hx = T(1) - s.lx;
  return {grad * s.mask * (hx * (v2 - v0) + s.lx * (v3 - v1)),
          grad * s.mask * (hy * (v1 - v0) + s.ly * (v3 - v2)),
          grad * (hy * (hx * v0 + s.lx * v1) + s.ly * (hx * v2 + s.lx * v3))};
}

}  // namespace detops
