// Greedy non-maximum suppression on the CPU: nms, batched_nms, soft_nms and nms_match.
//
// nms and batched_nms give torchvision's answers exactly (same float arithmetic, IoU >
// threshold suppresses, ties in score kept in index order) but work differently: boxes are
// sorted once into contiguous coordinate arrays, and each candidate is compared only
// against the boxes kept so far, in vectorised chunks, stopping at the first chunk that
// suppresses it. batched_nms groups boxes by class and runs the classes in parallel.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace detops {
namespace {

// Boxes as separate coordinate arrays (x1, y1, x2, y2, area), in processing order.
template <typename T>
struct BoxArrays {
  std::vector<T> x1, y1, x2, y2, area;

  explicit BoxArrays(int64_t capacity) {
    for (auto* column : {&x1, &y1, &x2, &y2, &area}) column->reserve(capacity);
  }

  void push(T bx1, T by1, T bx2, T by2, T barea) {
    x1.push_back(bx1);
    y1.push_back(by1);
    x2.push_back(bx2);
    y2.push_back(by2);
    area.push_back(barea);
  }

  int64_t size() const { return static_cast<int64_t>(x1.size()); }
};

// The largest T whose comparison `iou > t` in T equals torchvision's `(double)iou >
// threshold`, so the inner loop never widens to double.
template <typename T>
T threshold_in(double threshold) {
  T t = static_cast<T>(threshold);
  if (static_cast<double>(t) > threshold) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}

// Whether any of the `count` kept boxes at these pointers overlaps the candidate with IoU >
// threshold (nonzero = yes). The arithmetic matches torchvision's kernel operation for
// operation (kept box first), so decisions agree bit for bit. A fixed count lets the
// compiler vectorise the loop.
template <typename T, int count>
[[gnu::always_inline]] inline int count_overlapping(const T* __restrict kx1, const T* __restrict ky1,
                                                    const T* __restrict kx2, const T* __restrict ky2,
                                                    const T* __restrict karea, T cx1, T cy1, T cx2,
                                                    T cy2, T carea, T threshold) {
  int hits = 0;
  for (int k = 0; k < count; ++k) {
    const T w = std::max(static_cast<T>(0), std::min(kx2[k], cx2) - std::max(kx1[k], cx1));
    const T h = std::max(static_cast<T>(0), std::min(ky2[k], cy2) - std::max(ky1[k], cy1));
    const T inter = w * h;
    hits |= inter / (karea[k] + carea - inter) > threshold;
  }
  return hits;
}

// Whether any kept box suppresses the candidate; stops at the first chunk that does.
// Compiled for AVX2 and for the baseline, picked at load time.
template <typename T>
__attribute__((target_clones("avx2", "default"))) bool suppressed_by(
    const BoxArrays<T>& kept, T cx1, T cy1, T cx2, T cy2, T carea, T threshold) {
  constexpr int kChunk = 16;
  const T* x1 = kept.x1.data();
  const T* y1 = kept.y1.data();
  const T* x2 = kept.x2.data();
  const T* y2 = kept.y2.data();
  const T* area = kept.area.data();
  const int64_t end = kept.size();
  int64_t k = 0;
  for (; k + kChunk <= end; k += kChunk) {
    if (count_overlapping<T, kChunk>(x1 + k, y1 + k, x2 + k, y2 + k, area + k, cx1, cy1, cx2, cy2,
                                     carea, threshold))
      return true;
  }
  for (; k < end; ++k) {
    if (count_overlapping<T, 1>(x1 + k, y1 + k, x2 + k, y2 + k, area + k, cx1, cy1, cx2, cy2,
                                carea, threshold))
      return true;
  }
  return false;
}

// Greedy NMS over boxes [begin, end) of `sorted` (already in descending score order): a box
// is kept unless a kept box suppresses it. Sets is_kept[i] for each kept position i. The
// sweep is sequential by nature; batched_nms runs classes in parallel instead.
template <typename T>
void greedy_nms(const BoxArrays<T>& sorted, int64_t begin, int64_t end, T threshold,
                uint8_t* is_kept) {
  BoxArrays<T> kept(end - begin);
  for (int64_t i = begin; i < end; ++i) {
    if (suppressed_by(kept, sorted.x1[i], sorted.y1[i], sorted.x2[i], sorted.y2[i],
                      sorted.area[i], threshold))
      continue;
    is_kept[i] = 1;
    kept.push(sorted.x1[i], sorted.y1[i], sorted.x2[i], sorted.y2[i], sorted.area[i]);
  }
}

// Copies the boxes into coordinate arrays following `order`; areas as torchvision computes them.
template <typename T>
BoxArrays<T> gather_boxes(const at::Tensor& boxes, const std::vector<int64_t>& order) {
  const T* b = boxes.data_ptr<T>();
  BoxArrays<T> out(static_cast<int64_t>(order.size()));
  for (int64_t i : order) {
    const T* r = b + 4 * i;
    out.push(r[0], r[1], r[2], r[3], (r[2] - r[0]) * (r[3] - r[1]));
  }
  return out;
}

// Indices of `scores` in descending order, ties in ascending index (torchvision's order).
template <typename T>
std::vector<int64_t> descending_order(const at::Tensor& scores) {
  const T* s = scores.data_ptr<T>();
  std::vector<int64_t> order(scores.size(0));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [s](int64_t a, int64_t b) { return s[a] > s[b]; });
  return order;
}

at::Tensor to_index_tensor(const std::vector<int64_t>& values) {
  auto out = at::empty({static_cast<int64_t>(values.size())}, at::kLong);
  std::copy(values.begin(), values.end(), out.data_ptr<int64_t>());
  return out;
}

void check_boxes_and_scores(const at::Tensor& boxes, const at::Tensor& scores, int64_t width) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == width, "detops: boxes must have shape (N, ",
              width, "), got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "detops: scores must have shape (N,) with N = ", boxes.size(0), ", got ",
              scores.sizes());
  TORCH_CHECK(boxes.is_contiguous() && scores.is_contiguous(),
              "detops: boxes and scores must be contiguous");
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(),
              "detops: boxes and scores must have the same dtype, got ", boxes.scalar_type(),
              " and ", scores.scalar_type());
}

at::Tensor nms_cpu(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  check_boxes_and_scores(boxes, scores, 4);
  std::vector<int64_t> keep;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::nms", [&] {
    const auto order = descending_order<scalar_t>(scores);
    const auto sorted = gather_boxes<scalar_t>(boxes, order);
    std::vector<uint8_t> is_kept(order.size(), 0);
    greedy_nms(sorted, 0, sorted.size(), threshold_in<scalar_t>(iou_threshold), is_kept.data());
    for (size_t i = 0; i < order.size(); ++i)
      if (is_kept[i]) keep.push_back(order[i]);
  });
  return to_index_tensor(keep);
}

constexpr int64_t kMinParallelBoxes = 20000;

// Per-class NMS: one stable sort by (class, descending score), classes in parallel, then the
// kept boxes listed in descending score order across classes.
at::Tensor batched_nms_cpu(const at::Tensor& boxes, const at::Tensor& scores,
                           const at::Tensor& idxs, double iou_threshold) {
  check_boxes_and_scores(boxes, scores, 4);
  TORCH_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0) && idxs.scalar_type() == at::kLong &&
                  idxs.is_contiguous(),
              "detops: idxs must be a contiguous int64 tensor of shape (N,)");
  const int64_t n = boxes.size(0);
  const int64_t* cls = idxs.data_ptr<int64_t>();
  std::vector<int64_t> keep;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::batched_nms", [&] {
    const auto by_score = descending_order<scalar_t>(scores);
    std::vector<int64_t> by_class(by_score);
    std::stable_sort(by_class.begin(), by_class.end(),
                     [cls](int64_t a, int64_t b) { return cls[a] < cls[b]; });
    std::vector<int64_t> class_starts;
    for (int64_t i = 0; i < n; ++i)
      if (i == 0 || cls[by_class[i]] != cls[by_class[i - 1]]) class_starts.push_back(i);
    class_starts.push_back(n);

    const auto sorted = gather_boxes<scalar_t>(boxes, by_class);
    const scalar_t threshold = threshold_in<scalar_t>(iou_threshold);
    std::vector<uint8_t> is_kept(n, 0);
    const int64_t num_classes = static_cast<int64_t>(class_starts.size()) - 1;
    // Below kMinParallelBoxes a second thread costs more than it saves (and on a busy
    // machine, waiting for it can cost a scheduler time slice).
    const int64_t grain = n < kMinParallelBoxes ? std::max<int64_t>(num_classes, 1) : 1;
    at::parallel_for(0, num_classes, grain, [&](int64_t first, int64_t last) {
      for (int64_t c = first; c < last; ++c)
        greedy_nms(sorted, class_starts[c], class_starts[c + 1], threshold, is_kept.data());
    });
    std::vector<uint8_t> kept_by_index(n, 0);
    for (int64_t i = 0; i < n; ++i)
      if (is_kept[i]) kept_by_index[by_class[i]] = 1;
    for (int64_t i : by_score)
      if (kept_by_index[i]) keep.push_back(i);
  });
  return to_index_tensor(keep);
}

// Soft-NMS (Bodla et al.) with MMCV's rules: repeatedly take the highest remaining score
// (ties: lowest index), decay the others by their overlap with it (method 0 'naive': drop
// when IoU >= threshold, 1 'linear': multiply by 1 - IoU when IoU >= threshold, 2
// 'gaussian': multiply by exp(-IoU^2 / sigma)), and drop boxes whose decayed score falls
// below min_score. Returns (dets (K, 5) boxes with their score when taken, keep (K,)).
template <typename T>
std::tuple<at::Tensor, at::Tensor> soft_nms_impl(const at::Tensor& boxes, const at::Tensor& scores,
                                                 double iou_threshold, double sigma,
                                                 double min_score, int64_t method, int64_t offset) {
  // Thresholds compared in T, as MMCV passes them (as float).
  const T threshold = static_cast<T>(iou_threshold), floor = static_cast<T>(min_score);
  const T spread = static_cast<T>(sigma);
  const int64_t n = boxes.size(0);
  const T* b = boxes.data_ptr<T>();
  std::vector<T> score(scores.data_ptr<T>(), scores.data_ptr<T>() + n);
  std::vector<T> area(n);
  for (int64_t i = 0; i < n; ++i) {
    const T* r = b + 4 * i;
    area[i] = (r[2] - r[0] + offset) * (r[3] - r[1] + offset);
  }
  std::vector<int64_t> alive(n);  // remaining candidates, kept in ascending index order
  std::iota(alive.begin(), alive.end(), 0);
  std::vector<int64_t> keep;
  std::vector<T> kept_scores;
  while (!alive.empty()) {
    size_t best = 0;
    for (size_t k = 1; k < alive.size(); ++k)
      if (score[alive[k]] > score[alive[best]]) best = k;
    const int64_t top = alive[best];
    alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(best));
    keep.push_back(top);
    kept_scores.push_back(score[top]);
    const T* t = b + 4 * top;
    size_t survivors = 0;
    for (int64_t j : alive) {
      const T* r = b + 4 * j;
      const T w = std::max(static_cast<T>(0), std::min(t[2], r[2]) - std::max(t[0], r[0]) + offset);
      const T h = std::max(static_cast<T>(0), std::min(t[3], r[3]) - std::max(t[1], r[1]) + offset);
      const T inter = w * h;
      const T iou = inter / (area[top] + area[j] - inter);
      T weight = 1;
      if (method == 0) {
        if (iou >= threshold) weight = 0;
      } else if (method == 1) {
        if (iou >= threshold) weight = 1 - iou;
      } else {
        weight = std::exp(-(iou * iou) / spread);
      }
      score[j] *= weight;
      if (score[j] >= floor) alive[survivors++] = j;
    }
    alive.resize(survivors);
  }
  const int64_t k = static_cast<int64_t>(keep.size());
  auto dets = at::empty({k, 5}, boxes.options());
  T* d = dets.data_ptr<T>();
  for (int64_t i = 0; i < k; ++i) {
    std::copy(b + 4 * keep[i], b + 4 * keep[i] + 4, d + 5 * i);
    d[5 * i + 4] = kept_scores[i];
  }
  return {dets, to_index_tensor(keep)};
}

std::tuple<at::Tensor, at::Tensor> soft_nms_cpu(const at::Tensor& boxes, const at::Tensor& scores,
                                                double iou_threshold, double sigma,
                                                double min_score, int64_t method, int64_t offset) {
  check_boxes_and_scores(boxes, scores, 4);
  TORCH_CHECK(method >= 0 && method <= 2, "detops: soft_nms method must be 0, 1 or 2, got ", method);
  TORCH_CHECK(method != 2 || sigma > 0, "detops: soft_nms sigma must be positive, got ", sigma);
  std::tuple<at::Tensor, at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::soft_nms", [&] {
    out = soft_nms_impl<scalar_t>(boxes, scores, iou_threshold, sigma, min_score, method, offset);
  });
  return out;
}

// MMCV's nms_match: greedy NMS (IoU >= threshold suppresses) that records which kept box
// suppressed each box. Returns (members, group_sizes): members lists each group, kept box
// first then the boxes it suppressed in score order; group_sizes says where groups end.
std::tuple<at::Tensor, at::Tensor> nms_match_cpu(const at::Tensor& dets, double iou_threshold) {
  TORCH_CHECK(dets.dim() == 2 && dets.size(1) == 5 && dets.is_contiguous(),
              "detops: dets must be a contiguous tensor of shape (N, 5), got ", dets.sizes());
  std::vector<int64_t> members, group_sizes;
  AT_DISPATCH_FLOATING_TYPES(dets.scalar_type(), "detops::nms_match", [&] {
    using T = scalar_t;
    const T threshold = static_cast<T>(iou_threshold);
    const T* d = dets.data_ptr<T>();
    const int64_t n = dets.size(0);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [d](int64_t a, int64_t b) { return d[5 * a + 4] > d[5 * b + 4]; });
    std::vector<uint8_t> suppressed(n, 0);
    for (int64_t a = 0; a < n; ++a) {
      const int64_t i = order[a];
      if (suppressed[i]) continue;
      const T* p = d + 5 * i;
      const T area_i = (p[2] - p[0]) * (p[3] - p[1]);
      const size_t group_begin = members.size();
      members.push_back(i);
      for (int64_t b = a + 1; b < n; ++b) {
        const int64_t j = order[b];
        if (suppressed[j]) continue;
        const T* q = d + 5 * j;
        const T w = std::max(static_cast<T>(0), std::min(p[2], q[2]) - std::max(p[0], q[0]));
        const T h = std::max(static_cast<T>(0), std::min(p[3], q[3]) - std::max(p[1], q[1]));
        const T inter = w * h;
        if (inter / (area_i + (q[2] - q[0]) * (q[3] - q[1]) - inter) >= threshold) {
          suppressed[j] = 1;
          members.push_back(j);
        }
      }
      group_sizes.push_back(static_cast<int64_t>(members.size() - group_begin));
    }
  });
  return {to_index_tensor(members), to_index_tensor(group_sizes)};
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def("nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor");
  m.def(
      "soft_nms(Tensor boxes, Tensor scores, float iou_threshold, float sigma, float min_score, "
      "int method, int offset) -> (Tensor, Tensor)");
  m.def("nms_match(Tensor dets, float iou_threshold) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("nms", &detops::nms_cpu);
  m.impl("batched_nms", &detops::batched_nms_cpu);
  m.impl("soft_nms", &detops::soft_nms_cpu);
  m.impl("nms_match", &detops::nms_match_cpu);
}
