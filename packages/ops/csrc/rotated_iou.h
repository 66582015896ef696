// Overlap of two rotated boxes (x_center, y_center, width, height, angle in radians), shared
// by the CPU kernels (rotated.cpp) and the CUDA kernels (cuda/rotated_cuda.cu).
//
// A box's corners are center + R(angle) (+-w/2, +-h/2) with R the usual rotation matrix;
// in image coordinates (y pointing down) a positive angle turns the box clockwise, MMCV's
// default convention. The intersection is one box clipped by the four edges of the other
// (Sutherland-Hodgman; both are convex), its area by the shoelace formula.
#pragma once

#include <cmath>

#ifndef DETOPS_HOST_DEVICE
#ifdef __CUDACC__
#define DETOPS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DETOPS_HOST_DEVICE inline
#endif
#endif

namespace detops {

template <typename T>
struct Point {
  T x, y;
};

template <typename T>
DETOPS_HOST_DEVICE T cross(Point<T> o, Point<T> a, Point<T> b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// Corners in counter-clockwise order (positive shoelace area), centre moved by (-dx, -dy).
template <typename T>
DETOPS_HOST_DEVICE void rotated_corners(const T* box, T dx, T dy, Point<T>* corners) {
  const T c = cos(box[4]), s = sin(box[4]);
  const T hw = box[2] / 2, hh = box[3] / 2;
  const T local_x[4] = {-hw, hw, hw, -hw};
  const T local_y[4] = {-hh, -hh, hh, hh};
  for (int k = 0; k < 4; ++k) {
    corners[k].x = box[0] - dx + c * local_x[k] - s * local_y[k];
    corners[k].y = box[1] - dy + s * local_x[k] + c * local_y[k];
  }
}

// Keeps the part of polygon `in` (n vertices) left of the directed line a -> b; returns the
// number of vertices written to `out` (room for kMaxVertices).
constexpr int kMaxVertices = 16;

template <typename T>
DETOPS_HOST_DEVICE int clip_by_edge(const Point<T>* in, int n, Point<T> a, Point<T> b,
                                    Point<T>* out) {
  int m = 0;
  for (int i = 0; i < n && m < kMaxVertices - 1; ++i) {
    const Point<T> p = in[i], q = in[(i + 1) % n];
    const T side_p = cross(a, b, p), side_q = cross(a, b, q);
    if (side_p >= 0) out[m++] = p;
    if ((side_p >= 0) != (side_q >= 0)) {
      const T t = side_p / (side_p - side_q);
      out[m++] = Point<T>{p.x + (q.x - p.x) * t, p.y + (q.y - p.y) * t};
    }
  }
  return m;
}

template <typename T>
DETOPS_HOST_DEVICE T polygon_area(const Point<T>* poly, int n) {
  T twice = 0;
  for (int i = 0; i < n; ++i) {
    const Point<T> p = poly[i], q = poly[(i + 1) % n];
    twice += p.x * q.y - p.y * q.x;
  }
  return fabs(twice) / 2;
}

// IoU (iof == false) or intersection over the first box's area (iof == true). Boxes with an
// area below 1e-14 overlap nothing.
template <typename T>
DETOPS_HOST_DEVICE T rotated_box_overlap(const T* a, const T* b, bool iof) {
  const T area_a = a[2] * a[3], area_b = b[2] * b[3];
  if (area_a < T(1e-14) || area_b < T(1e-14)) return 0;
  // Work relative to the midpoint of the centres, which keeps float precision for boxes far
  // from the origin.
  const T dx = (a[0] + b[0]) / 2, dy = (a[1] + b[1]) / 2;
  Point<T> clip[4], poly[kMaxVertices], next[kMaxVertices];
  rotated_corners(b, dx, dy, clip);
  rotated_corners(a, dx, dy, poly);
  int n = 4;
  for (int e = 0; e < 4 && n > 0; ++e) {
    n = clip_by_edge(poly, n, clip[e], clip[(e + 1) % 4], next);
    for (int k = 0; k < n; ++k) poly[k] = next[k];
  }
  const T inter = n > 2 ? polygon_area(poly, n) : T(0);
  return inter / (iof ? area_a : area_a + area_b - inter);
}

}  // namespace detops
