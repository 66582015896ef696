// Greedy NMS on CUDA. Boxes are sorted by descending score (stable); one kernel fills, for
// every box, a bitmask of the later boxes it would suppress (IoU > threshold), 64 columns
// per word; the host then walks the boxes in order, keeping a box unless a kept box's mask
// has its bit set. Same decisions as the CPU kernel up to float rounding on the device.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "nms_mask.cuh"

namespace detops {
namespace {

template <typename T>
__device__ bool iou_above(const T* a, const T* b, T threshold) {
  const T w = max(T(0), min(a[2], b[2]) - max(a[0], b[0]));
  const T h = max(T(0), min(a[3], b[3]) - max(a[1], b[1]));
  const T inter = w * h;
  const T area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const T area_b = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (area_a + area_b - inter) > threshold;
}

// Block (row_block, col_block): thread t compares sorted box row_block * 64 + t with the 64
// boxes of col_block and writes one mask word.
template <typename T>
__global__ void suppression_mask_kernel(int64_t n, const T* sorted_boxes, T threshold,
                                        unsigned long long* mask) {
  const int64_t row_block = blockIdx.y, col_block = blockIdx.x;
  if (row_block > col_block) return;
  const int64_t words = mask_words(n);
  const int64_t rows_left = n - row_block * kBitsPerWord, cols_left = n - col_block * kBitsPerWord;
  const int row_count = rows_left < kBitsPerWord ? static_cast<int>(rows_left) : kBitsPerWord;
  const int col_count = cols_left < kBitsPerWord ? static_cast<int>(cols_left) : kBitsPerWord;

  __shared__ T cols[kBitsPerWord * 4];
  if (threadIdx.x < col_count) {
    for (int k = 0; k < 4; ++k)
      cols[threadIdx.x * 4 + k] = sorted_boxes[(col_block * kBitsPerWord + threadIdx.x) * 4 + k];
  }
  __syncthreads();
  if (threadIdx.x >= row_count) return;

  const int64_t row = row_block * kBitsPerWord + threadIdx.x;
  const T* box = sorted_boxes + row * 4;
  unsigned long long bits = 0;
  const int start = row_block == col_block ? threadIdx.x + 1 : 0;
  for (int j = start; j < col_count; ++j)
    if (iou_above(box, cols + j * 4, threshold)) bits |= 1ULL << j;
  mask[row * words + col_block] = bits;
}

template <typename T>
T threshold_in(double threshold) {
  T t = static_cast<T>(threshold);
  if (static_cast<double>(t) > threshold) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}

at::Tensor nms_cuda(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4 && scores.dim() == 1 &&
                  scores.size(0) == boxes.size(0),
              "detops: boxes must be (N, 4) and scores (N,)");
  TORCH_CHECK(boxes.is_contiguous() && scores.is_contiguous(),
              "detops: boxes and scores must be contiguous");
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(),
              "detops: boxes and scores must have the same dtype");
  const c10::cuda::CUDAGuard guard(boxes.device());
  const int64_t n = boxes.size(0);
  if (n == 0) return at::empty({0}, boxes.options().dtype(at::kLong));

  const auto order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const auto sorted_boxes = boxes.index_select(0, order).contiguous();
  const int64_t words = mask_words(n);
  auto mask = at::empty({n * words}, boxes.options().dtype(at::kLong));
  const dim3 grid(words, words);
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "detops::nms_cuda", [&] {
    suppression_mask_kernel<scalar_t><<<grid, kBitsPerWord, 0, stream>>>(
        n, sorted_boxes.data_ptr<scalar_t>(), threshold_in<scalar_t>(iou_threshold),
        reinterpret_cast<unsigned long long*>(mask.data_ptr<int64_t>()));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  return kept_from_mask(mask, order);
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_IMPL(detops, CUDA, m) { m.impl("nms", &detops::nms_cuda); }
