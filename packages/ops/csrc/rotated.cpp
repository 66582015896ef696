// Rotated boxes (x_center, y_center, width, height, angle in radians) on the CPU: pairwise or
// aligned IoU/IoF, and greedy NMS (optionally within labels).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <vector>

#include "rotated_iou.h"

namespace detops {
namespace {

constexpr int64_t kGrain = 256;  // box pairs per task; one pair costs a polygon clip

at::Tensor box_iou_rotated_cpu(const at::Tensor& boxes1, const at::Tensor& boxes2, bool iof,
                               bool aligned) {
  TORCH_CHECK(boxes1.dim() == 2 && boxes1.size(1) == 5 && boxes2.dim() == 2 && boxes2.size(1) == 5,
              "detops: boxes1 and boxes2 must have shapes (N, 5) and (M, 5), got ",
              boxes1.sizes(), " and ", boxes2.sizes());
  TORCH_CHECK(!aligned || boxes1.size(0) == boxes2.size(0),
              "detops: aligned rotated IoU needs as many boxes1 as boxes2");
  TORCH_CHECK(boxes1.is_contiguous() && boxes2.is_contiguous() &&
                  boxes1.scalar_type() == boxes2.scalar_type(),
              "detops: boxes1 and boxes2 must be contiguous and of one dtype");
  const int64_t n = boxes1.size(0), m = boxes2.size(0);
  auto out = aligned ? at::empty({n}, boxes1.options()) : at::empty({n, m}, boxes1.options());
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_iou_rotated", [&] {
    const scalar_t* a = boxes1.data_ptr<scalar_t>();
    const scalar_t* b = boxes2.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const int64_t pairs = aligned ? n : n * m;
    at::parallel_for(0, pairs, kGrain, [&](int64_t first, int64_t last) {
      for (int64_t p = first; p < last; ++p) {
        const int64_t i = aligned ? p : p / m, j = aligned ? p : p % m;
        o[p] = rotated_box_overlap(a + 5 * i, b + 5 * j, iof);
      }
    });
  });
  return out;
}

// Greedy NMS on rotated boxes: IoU > threshold with a kept, higher-scored box (of the same
// label, when labels are given) suppresses. Returns kept indices in descending score order,
// ties in index order.
at::Tensor nms_rotated_cpu(const at::Tensor& boxes, const at::Tensor& scores,
                           const std::optional<at::Tensor>& labels, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 5 && boxes.is_contiguous(),
              "detops: boxes must be a contiguous (N, 5) tensor, got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0) && scores.is_contiguous() &&
                  scores.scalar_type() == boxes.scalar_type(),
              "detops: scores must be a contiguous (N,) tensor of the boxes' dtype");
  const int64_t n = boxes.size(0);
  const int64_t* label = nullptr;
  if (labels.has_value()) {
    TORCH_CHECK(labels->dim() == 1 && labels->size(0) == n && labels->is_contiguous() &&
                    labels->scalar_type() == at::kLong,
                "detops: labels must be a contiguous int64 (N,) tensor");
    label = labels->data_ptr<int64_t>();
  }
  std::vector<int64_t> keep;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::nms_rotated", [&] {
    using T = scalar_t;
    const T* b = boxes.data_ptr<T>();
    const T* s = scores.data_ptr<T>();
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [s](int64_t x, int64_t y) { return s[x] > s[y]; });
    for (int64_t i : order) {
      const bool suppressed = std::any_of(keep.begin(), keep.end(), [&](int64_t k) {
        return (label == nullptr || label[k] == label[i]) &&
               rotated_box_overlap(b + 5 * k, b + 5 * i, false) > iou_threshold;
      });
      if (!suppressed) keep.push_back(i);
    }
  });
  auto out = at::empty({static_cast<int64_t>(keep.size())}, at::kLong);
  std::copy(keep.begin(), keep.end(), out.data_ptr<int64_t>());
  return out;
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def("box_iou_rotated(Tensor boxes1, Tensor boxes2, bool iof, bool aligned) -> Tensor");
  m.def("nms_rotated(Tensor boxes, Tensor scores, Tensor? labels, float iou_threshold) -> Tensor");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("box_iou_rotated", &detops::box_iou_rotated_cpu);
  m.impl("nms_rotated", &detops::nms_rotated_cpu);
}
