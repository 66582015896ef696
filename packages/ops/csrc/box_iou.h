// Overlap of two axis-aligned boxes (x1, y1, x2, y2) and its gradient, shared by the CPU
// kernels (box_iou.cpp) and the CUDA kernels (cuda/box_iou_cuda.cu).
//
// Semantics follow MMDetection's bbox_overlaps: union (or the first box's area for IoF) and
// the enclosing area for GIoU are clamped below by eps when `use_eps`; torchvision's box_iou
// is mode kIoU without the clamp. The gradient mirrors what autograd gives for the same
// torch expression, including its choices at ties (max/min split the gradient evenly,
// clamp(min=0) passes none at 0).
#pragma once

#ifndef DETOPS_HOST_DEVICE
#ifdef __CUDACC__
#define DETOPS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DETOPS_HOST_DEVICE inline
#endif
#endif

namespace detops {

enum OverlapMode : int { kIoU = 0, kIoF = 1, kGIoU = 2 };

template <typename T>
DETOPS_HOST_DEVICE T clamp_below(T x, T floor) { return x > floor ? x : floor; }

template <typename T>
DETOPS_HOST_DEVICE T box_overlap(const T* a, const T* b, int mode, bool use_eps, T eps) {
  const T area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const T area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const T iw = clamp_below((a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]), T(0));
  const T ih = clamp_below((a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]), T(0));
  const T inter = iw * ih;
  T uni = mode == kIoF ? area_a : area_a + area_b - inter;
  if (use_eps) uni = clamp_below(uni, eps);
  const T iou = inter / uni;
  if (mode != kGIoU) return iou;
  const T ew = clamp_below((a[2] > b[2] ? a[2] : b[2]) - (a[0] < b[0] ? a[0] : b[0]), T(0));
  const T eh = clamp_below((a[3] > b[3] ? a[3] : b[3]) - (a[1] < b[1] ? a[1] : b[1]), T(0));
  T enclose = ew * eh;
  if (use_eps) enclose = clamp_below(enclose, eps);
  return iou - (enclose - uni) / enclose;
}

// Gradient of max(p, q) (or min) with respect to p: 1 when p wins, 0.5 at a tie.
template <typename T>
DETOPS_HOST_DEVICE T share_if_greater(T p, T q) { return p > q ? T(1) : (p == q ? T(0.5) : T(0)); }

// Adds grad * d overlap / d a into ga[4] and grad * d overlap / d b into gb[4].
template <typename T>
DETOPS_HOST_DEVICE void box_overlap_backward(const T* a, const T* b, int mode, bool use_eps, T eps,
                                             T grad, T* ga, T* gb) {
  const T wa = a[2] - a[0], ha = a[3] - a[1], wb = b[2] - b[0], hb = b[3] - b[1];
  const T area_a = wa * ha, area_b = wb * hb;
  const T dx = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
  const T dy = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
  const T iw = clamp_below(dx, T(0)), ih = clamp_below(dy, T(0));
  const T inter = iw * ih;
  const T raw_union = mode == kIoF ? area_a : area_a + area_b - inter;
  const T uni = use_eps ? clamp_below(raw_union, eps) : raw_union;
  const T union_pass = use_eps ? share_if_greater(raw_union, eps) : T(1);

  T g_inter = grad / uni;
  T g_union = -grad * inter / (uni * uni);
  if (mode == kGIoU) {
    const T ex = (a[2] > b[2] ? a[2] : b[2]) - (a[0] < b[0] ? a[0] : b[0]);
    const T ey = (a[3] > b[3] ? a[3] : b[3]) - (a[1] < b[1] ? a[1] : b[1]);
    const T ew = clamp_below(ex, T(0)), eh = clamp_below(ey, T(0));
    const T raw_enclose = ew * eh;
    const T enclose = use_eps ? clamp_below(raw_enclose, eps) : raw_enclose;
    const T enclose_pass = use_eps ? share_if_greater(raw_enclose, eps) : T(1);
    g_union += grad / enclose;
    const T g_enclose = -grad * uni / (enclose * enclose) * enclose_pass;
    // enclose = ew * eh, ew = max(x2) - min(x1), eh likewise (each clamped at 0)
    const T g_ew = ex > 0 ? g_enclose * eh : T(0);
    const T g_eh = ey > 0 ? g_enclose * ew : T(0);
    ga[2] += g_ew * share_if_greater(a[2], b[2]);
    gb[2] += g_ew * share_if_greater(b[2], a[2]);
    ga[0] -= g_ew * share_if_greater(b[0], a[0]);
    gb[0] -= g_ew * share_if_greater(a[0], b[0]);
    ga[3] += g_eh * share_if_greater(a[3], b[3]);
    gb[3] += g_eh * share_if_greater(b[3], a[3]);
    ga[1] -= g_eh * share_if_greater(b[1], a[1]);
    gb[1] -= g_eh * share_if_greater(a[1], b[1]);
  }
  g_union *= union_pass;
  // union = area_a + area_b - inter (IoU, GIoU) or area_a (IoF)
  const T g_area_a = g_union;
  const T g_area_b = mode == kIoF ? T(0) : g_union;
  if (mode != kIoF) g_inter -= g_union;
  ga[0] -= g_area_a * ha;
  ga[2] += g_area_a * ha;
  ga[1] -= g_area_a * wa;
  ga[3] += g_area_a * wa;
  gb[0] -= g_area_b * hb;
  gb[2] += g_area_b * hb;
  gb[1] -= g_area_b * wb;
  gb[3] += g_area_b * wb;
  // inter = iw * ih, iw = min(x2) - max(x1), ih likewise (each clamped at 0)
  const T g_iw = dx > 0 ? g_inter * ih : T(0);
  const T g_ih = dy > 0 ? g_inter * iw : T(0);
  ga[2] += g_iw * share_if_greater(b[2], a[2]);
  gb[2] += g_iw * share_if_greater(a[2], b[2]);
  ga[0] -= g_iw * share_if_greater(a[0], b[0]);
  gb[0] -= g_iw * share_if_greater(b[0], a[0]);
  ga[3] += g_ih * share_if_greater(b[3], a[3]);
  gb[3] += g_ih * share_if_greater(a[3], b[3]);
  ga[1] -= g_ih * share_if_greater(a[1], b[1]);
  gb[1] -= g_ih * share_if_greater(b[1], a[1]);
}

}  // namespace detops
