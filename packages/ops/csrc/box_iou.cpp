// Pairwise and aligned overlaps of axis-aligned boxes (IoU, IoF, GIoU) on the CPU, with their
// gradient. One fused pass per output row, rows spread over threads; no (N, M, 2)
// intermediates as the tensor-expression version builds.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <optional>

#include "box_iou.h"

namespace detops {
namespace {

constexpr int64_t kGrain = 2048;  // box pairs per task, below which threads do not pay off

void check_overlap_inputs(const at::Tensor& boxes1, const at::Tensor& boxes2, int64_t mode,
                          bool aligned) {
  TORCH_CHECK(boxes1.dim() == 3 && boxes1.size(2) == 4 && boxes2.dim() == 3 &&
                  boxes2.size(2) == 4 && boxes1.size(0) == boxes2.size(0),
              "detops: boxes1 and boxes2 must have shapes (B, N, 4) and (B, M, 4), got ",
              boxes1.sizes(), " and ", boxes2.sizes());
  TORCH_CHECK(!aligned || boxes1.size(1) == boxes2.size(1),
              "detops: aligned overlaps need as many boxes in boxes1 as in boxes2, got ",
              boxes1.size(1), " and ", boxes2.size(1));
  TORCH_CHECK(boxes1.is_contiguous() && boxes2.is_contiguous(),
              "detops: boxes1 and boxes2 must be contiguous");
  TORCH_CHECK(boxes1.scalar_type() == boxes2.scalar_type(),
              "detops: boxes1 and boxes2 must have the same dtype");
  TORCH_CHECK(mode >= kIoU && mode <= kGIoU, "detops: overlap mode must be 0 (iou), 1 (iof) or "
              "2 (giou), got ", mode);
}

// boxes1 (B, N, 4), boxes2 (B, M, 4) -> (B, N, M), or (B, N) when aligned.
at::Tensor box_overlaps_cpu(const at::Tensor& boxes1, const at::Tensor& boxes2, int64_t mode,
                            bool aligned, std::optional<double> eps) {
  check_overlap_inputs(boxes1, boxes2, mode, aligned);
  const int64_t batch = boxes1.size(0), n = boxes1.size(1), m = boxes2.size(1);
  auto out = aligned ? at::empty({batch, n}, boxes1.options())
                     : at::empty({batch, n, m}, boxes1.options());
  const int imode = static_cast<int>(mode);
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_overlaps", [&] {
    using T = scalar_t;
    const T* b1 = boxes1.data_ptr<T>();
    const T* b2 = boxes2.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const bool use_eps = eps.has_value();
    const T e = static_cast<T>(eps.value_or(0.0));
    if (aligned) {
      at::parallel_for(0, batch * n, kGrain, [&](int64_t first, int64_t last) {
        for (int64_t i = first; i < last; ++i)
          o[i] = box_overlap(b1 + 4 * i, b2 + 4 * i, imode, use_eps, e);
      });
      return;
    }
    const int64_t row_grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(m, 1));
    at::parallel_for(0, batch * n, row_grain, [&](int64_t first, int64_t last) {
      for (int64_t row = first; row < last; ++row) {
        const T* a = b1 + 4 * row;
        const T* others = b2 + 4 * m * (row / n);
        T* dst = o + m * row;
        for (int64_t j = 0; j < m; ++j) dst[j] = box_overlap(a, others + 4 * j, imode, use_eps, e);
      }
    });
  });
  return out;
}

// Gradients of box_overlaps with respect to boxes1 and boxes2. Pairwise: each output row
// accumulates its boxes1 gradient, each column its boxes2 gradient, so no two threads write
// the same element.
std::tuple<at::Tensor, at::Tensor> box_overlaps_backward_cpu(const at::Tensor& grad,
                                                             const at::Tensor& boxes1,
                                                             const at::Tensor& boxes2,
                                                             int64_t mode, bool aligned,
                                                             std::optional<double> eps) {
  check_overlap_inputs(boxes1, boxes2, mode, aligned);
  const int64_t batch = boxes1.size(0), n = boxes1.size(1), m = boxes2.size(1);
  TORCH_CHECK(grad.is_contiguous() && grad.scalar_type() == boxes1.scalar_type() &&
                  grad.numel() == (aligned ? batch * n : batch * n * m),
              "detops: grad must be contiguous and shaped like the overlaps");
  auto grad1 = at::zeros_like(boxes1);
  auto grad2 = at::zeros_like(boxes2);
  const int imode = static_cast<int>(mode);
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_overlaps_backward", [&] {
    using T = scalar_t;
    const T* b1 = boxes1.data_ptr<T>();
    const T* b2 = boxes2.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* g1 = grad1.data_ptr<T>();
    T* g2 = grad2.data_ptr<T>();
    const bool use_eps = eps.has_value();
    const T e = static_cast<T>(eps.value_or(0.0));
    if (aligned) {
      at::parallel_for(0, batch * n, kGrain, [&](int64_t first, int64_t last) {
        for (int64_t i = first; i < last; ++i)
          box_overlap_backward(b1 + 4 * i, b2 + 4 * i, imode, use_eps, e, g[i], g1 + 4 * i,
                               g2 + 4 * i);
      });
      return;
    }
    at::parallel_for(0, batch * n, std::max<int64_t>(1, kGrain / std::max<int64_t>(m, 1)),
                     [&](int64_t first, int64_t last) {
      T unused[4] = {};
      for (int64_t row = first; row < last; ++row) {
        const int64_t bi = row / n;
        for (int64_t j = 0; j < m; ++j)
          box_overlap_backward(b1 + 4 * row, b2 + 4 * (bi * m + j), imode, use_eps, e,
                               g[row * m + j], g1 + 4 * row, unused);
      }
    });
    at::parallel_for(0, batch * m, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)),
                     [&](int64_t first, int64_t last) {
      T unused[4] = {};
      for (int64_t col = first; col < last; ++col) {
        const int64_t bi = col / m, j = col % m;
        for (int64_t i = 0; i < n; ++i)
          box_overlap_backward(b1 + 4 * (bi * n + i), b2 + 4 * col, imode, use_eps, e,
                               g[(bi * n + i) * m + j], unused, g2 + 4 * col);
      }
    });
  });
  return {grad1, grad2};
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def("box_overlaps(Tensor boxes1, Tensor boxes2, int mode, bool aligned, float? eps) -> Tensor");
  m.def(
      "box_overlaps_backward(Tensor grad, Tensor boxes1, Tensor boxes2, int mode, bool aligned, "
      "float? eps) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("box_overlaps", &detops::box_overlaps_cpu);
  m.impl("box_overlaps_backward", &detops::box_overlaps_backward_cpu);
}
