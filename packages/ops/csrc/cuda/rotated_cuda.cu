// Rotated boxes on CUDA: IoU/IoF with one thread per box pair, and greedy NMS through a
// suppression bitmask (as nms_cuda.cu) whose bits are only set between boxes of one label.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <optional>

#include "../rotated_iou.h"
#include "nms_mask.cuh"

namespace detops {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void rotated_overlaps_kernel(int64_t count, int64_t m, bool aligned, bool iof,
                                        const T* a, const T* b, T* out) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p >= count) return;
  const int64_t i = aligned ? p : p / m, j = aligned ? p : p % m;
  out[p] = rotated_box_overlap(a + 5 * i, b + 5 * j, iof);
}

at::Tensor box_iou_rotated_cuda(const at::Tensor& boxes1, const at::Tensor& boxes2, bool iof,
                                bool aligned) {
  TORCH_CHECK(boxes1.dim() == 2 && boxes1.size(1) == 5 && boxes2.dim() == 2 && boxes2.size(1) == 5,
              "detops: boxes1 and boxes2 must have shapes (N, 5) and (M, 5)");
  TORCH_CHECK(!aligned || boxes1.size(0) == boxes2.size(0),
              "detops: aligned rotated IoU needs as many boxes1 as boxes2");
  TORCH_CHECK(boxes1.is_contiguous() && boxes2.is_contiguous() &&
                  boxes1.scalar_type() == boxes2.scalar_type(),
              "detops: boxes1 and boxes2 must be contiguous and of one dtype");
  const c10::cuda::CUDAGuard guard(boxes1.device());
  const int64_t n = boxes1.size(0), m = boxes2.size(0);
  auto out = aligned ? at::empty({n}, boxes1.options()) : at::empty({n, m}, boxes1.options());
  const int64_t count = out.numel();
  if (count == 0) return out;
  const int blocks = static_cast<int>((count + kThreads - 1) / kThreads);
  AT_DISPATCH_FLOATING_TYPES(boxes1.scalar_type(), "detops::box_iou_rotated_cuda", [&] {
    rotated_overlaps_kernel<scalar_t><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        count, m, aligned, iof, boxes1.data_ptr<scalar_t>(), boxes2.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

// Thread t of block (row_block, col_block) sets bit j when sorted box row_block * 64 + t
// (same label, if labelled) overlaps later box col_block * 64 + j with IoU > threshold.
template <typename T>
__global__ void rotated_mask_kernel(int64_t n, const T* boxes, const int64_t* labels,
                                    double threshold, unsigned long long* mask) {
  const int64_t row_block = blockIdx.y, col_block = blockIdx.x;
  if (row_block > col_block) return;
  const int64_t words = mask_words(n);
  const int64_t row = row_block * kBitsPerWord + threadIdx.x;
  if (row >= n) return;
  unsigned long long bits = 0;
  const int64_t first = col_block * kBitsPerWord;
  const int64_t last = n < first + kBitsPerWord ? n : first + kBitsPerWord;
  for (int64_t col = first > row ? first : row + 1; col < last; ++col) {
    if (labels != nullptr && labels[col] != labels[row]) continue;
    if (rotated_box_overlap(boxes + 5 * row, boxes + 5 * col, false) > threshold)
      bits |= 1ULL << (col - first);
  }
  mask[row * words + col_block] = bits;
}

at::Tensor nms_rotated_cuda(const at::Tensor& boxes, const at::Tensor& scores,
                            const std::optional<at::Tensor>& labels, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 5 && boxes.is_contiguous(),
              "detops: boxes must be a contiguous (N, 5) tensor");
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0) && scores.is_contiguous(),
              "detops: scores must be a contiguous (N,) tensor");
  const c10::cuda::CUDAGuard guard(boxes.device());
  const int64_t n = boxes.size(0);
  if (n == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  const auto order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const auto sorted_boxes = boxes.index_select(0, order).contiguous();
  at::Tensor sorted_labels;
  if (labels.has_value()) sorted_labels = labels->index_select(0, order).contiguous();
  const int64_t words = mask_words(n);
  auto mask = at::empty({n * words}, boxes.options().dtype(at::kLong));
  const dim3 grid(words, words);
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::nms_rotated_cuda", [&] {
    rotated_mask_kernel<scalar_t><<<grid, kBitsPerWord, 0, c10::cuda::getCurrentCUDAStream()>>>(
        n, sorted_boxes.data_ptr<scalar_t>(),
        labels.has_value() ? sorted_labels.data_ptr<int64_t>() : nullptr, iou_threshold,
        reinterpret_cast<unsigned long long*>(mask.data_ptr<int64_t>()));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  return kept_from_mask(mask, order);
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("box_iou_rotated", &detops::box_iou_rotated_cuda);
  m.impl("nms_rotated", &detops::nms_rotated_cuda);
}
